"""From a read document to what the campaign needs: sections, metadata, kind, flags."""

from __future__ import annotations

from extractors.certificates import TrustRoots
from extractors.classify import classify
from extractors.metadata import extract_metadata
from extractors.model import Document, Extraction, Flag, FlagKind, Metadata, OutlineNode, Profile, Section
from extractors.outline import LOW_CONFIDENCE, Headings
from extractors.outline import sections as outline_sections
from extractors.readers import read_document
from extractors.signatures import read_signatures


class DocumentAnalysis:
    """One read document, analyzed for as many campaign profiles as the caller asks: what does not
    depend on the profile (text, metadata, heading candidates) is worked out once, and an outline
    another profile already had is aligned once."""

    def __init__(self, doc: Document, filename: str):
        self.doc, self.filename = doc, filename
        self.body = doc.body
        self.text = "\n".join(b.full_text for b in self.body)
        self._meta: Metadata | None = None
        self._headings = Headings()
        self._aligned: dict[tuple, tuple[list[Section], list[str]]] = {}

    def metadata(self) -> Metadata:
        if self._meta is None:
            self._meta = extract_metadata(self.doc.blocks, ocr=any(f.kind == FlagKind.OCR for f in self.doc.flags))
        return self._meta

    def _sections(self, outline: list[OutlineNode]) -> tuple[list[Section], list[str]]:
        key = tuple((n.key, n.title, n.level, n.parent) for n in outline)
        if key not in self._aligned:
            self._aligned[key] = outline_sections(self.body, outline, self._headings)
        found, missing = self._aligned[key]
        return list(found), list(missing)

    def for_profile(self, profile: Profile) -> Extraction:
        """Sections, metadata and kind for one campaign profile."""
        doc, filename, text = self.doc, self.filename, self.text
        if doc.error:
            kind = classify(Metadata(), [], filename, profile)
            return Extraction(doc.format, kind, Metadata(), [], [n.key for n in profile.outline], text,
                              list(doc.flags), doc.error)
        meta = self.metadata()
        sections, missing = self._sections(profile.outline)
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


def analyze(doc: Document, filename: str, profile: Profile) -> Extraction:
    """Sections, metadata and kind of one read document, for one campaign profile."""
    return DocumentAnalysis(doc, filename).for_profile(profile)


def extract(data: bytes, filename: str, profile: Profile, trust_roots: TrustRoots | None = None) -> Extraction:
    """Read one file's bytes, analyze it for a campaign profile and read its signatures (their own pass
    over the same bytes). Never raises for bad input."""
    doc = read_document(data, filename)
    extraction = analyze(doc, filename, profile)
    extraction.signatures, flags = read_signatures(data, doc.format, trust_roots)
    extraction.flags.extend(flags)
    return extraction
