"""From a read document to what the campaign needs: sections, metadata, kind, flags."""

from __future__ import annotations

from extractors.certificates import TrustRoots
from extractors.classify import classify
from extractors.metadata import extract_metadata
from extractors.model import Document, Extraction, Flag, FlagKind, Metadata, Profile
from extractors.outline import LOW_CONFIDENCE
from extractors.outline import sections as outline_sections
from extractors.readers import read_document
from extractors.signatures import read_signatures


def analyze(doc: Document, filename: str, profile: Profile) -> Extraction:
    """Sections, metadata and kind of one read document, for one campaign profile."""
    body = doc.body
    text = "\n".join(b.full_text for b in body)
    if doc.error:
        kind = classify(Metadata(), [], filename, profile)
        return Extraction(doc.format, kind, Metadata(), [], [n.key for n in profile.outline], text,
                          list(doc.flags), doc.error)
    meta = extract_metadata(doc.blocks, ocr=any(f.kind == FlagKind.OCR for f in doc.flags))
    sections, missing = outline_sections(body, profile.outline)
    kind = classify(meta, sections, filename, profile)
    flags = list(doc.flags)
    if kind != "report":
        # Only the report follows the outline; a regulation's "Chương I" is not section I.
        sections, missing = [], []
    else:
        for s in sections:
            if not s.extra and s.confidence < LOW_CONFIDENCE:
                flags.append(Flag(FlagKind.LOW_CONFIDENCE, f"{s.key} «{s.heading}» ({s.confidence:.2f})"))
            if s.extra:
                flags.append(Flag(FlagKind.EXTRA_SECTION, s.heading))
    return Extraction(doc.format, kind, meta, sections, missing, text, flags)


def extract(data: bytes, filename: str, profile: Profile, trust_roots: TrustRoots | None = None) -> Extraction:
    """Read one file's bytes, analyze it for a campaign profile and read its signatures (their own pass
    over the same bytes). Never raises for bad input."""
    doc = read_document(data, filename)
    extraction = analyze(doc, filename, profile)
    extraction.signatures, flags = read_signatures(data, doc.format, trust_roots)
    extraction.flags.extend(flags)
    return extraction
