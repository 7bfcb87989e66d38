"""The one document model between file formats and the outline.

Every reader (.docx, PDF, converted .doc, OCR) turns bytes into a `Document`: an ordered list of
`Block`s carrying repaired text, where the text came from, and the signals a heading detector needs.
Everything after that (outline alignment, metadata, classification) works on blocks only.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass
class Block:
    """One paragraph, table-cell paragraph or PDF line group, in reading order."""

    text: str  # display form (extractors.text.repair applied)
    origin: str = "body"  # body | header | footer | textbox | note
    page: int | None = None  # 1-based, when the format knows pages
    cell: tuple[int, int, int] | None = None  # (table, row, column) for text inside a table
    style: str | None = None  # paragraph style name, e.g. "Heading 1"
    outline_level: int | None = None  # 0-based, from w:outlineLvl or a heading style
    number_label: str | None = None  # automatic numbering as rendered, e.g. "II." or "2."
    bold: bool = False  # (nearly) all the text is bold
    italic: bool = False
    caps: bool = False  # rendered in capitals (w:caps) or written in capitals
    font_size: float | None = None  # points
    font_name: str | None = None
    indent: float | None = None  # left indent or x position, points
    align: str | None = None  # left | center | right | justify
    list_item: bool = False  # automatic list paragraph (numbered or bulleted; bullets have no label)

    @property
    def full_text(self) -> str:
        """The text as a reader sees it, automatic number included."""
        if self.number_label:
            return f"{self.number_label} {self.text}".strip()
        return self.text


class FlagKind(StrEnum):
    """The flag kinds the extractors emit. Their Vietnamese labels are in rules/vocabulary.py (the
    extractors know nothing of what staff read)."""

    UNREADABLE = "unreadable"
    ENCRYPTED = "encrypted"
    TOO_LARGE = "too_large"
    TRUNCATED = "truncated"
    TIMEOUT = "timeout"
    LEGACY_ENCODING = "legacy_encoding"
    NEEDS_OCR = "needs_ocr"
    OCR = "ocr"
    CONVERTER_MISSING = "converter_missing"
    ARCHIVE_LIMIT = "archive_limit"
    ARCHIVE_ERROR = "archive_error"
    UNSUPPORTED_FORMAT = "unsupported_format"
    LOW_CONFIDENCE = "low_confidence"
    EXTRA_SECTION = "extra_section"
    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_BROKEN = "signature_broken"


@dataclass
class Flag:
    """Something a person should know about a file: unreadable, encrypted, low confidence..."""

    kind: str  # a FlagKind, or a kind of the pipeline's (rules/vocabulary.py)
    detail: str = ""


@dataclass
class Document:
    """What a reader returns for one file."""

    format: str  # a format name of extractors.formats: docx | pdf | doc | rtf | image | txt | ... | unknown
    blocks: list[Block] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    error: str | None = None  # set when the file could not be read at all

    @property
    def body(self) -> list[Block]:
        return [b for b in self.blocks if b.origin == "body"]


# What a campaign tells the extractors: outline nodes and the kinds of attachment to recognize.


@dataclass
class OutlineNode:
    key: str  # "I", "I.1", ...
    title: str
    level: int  # 0 for top level
    parent: str | None = None


@dataclass
class KindSpec:
    id: str  # attachment id, e.g. "quy_che_dan_chu"
    title: str
    hints: list[str] = field(default_factory=list)  # extra phrases that name it


@dataclass
class Profile:
    """Everything the extractors need from a campaign, with nothing about units or mail."""

    outline: list[OutlineNode] = field(default_factory=list)  # flattened, document order
    kinds: list[KindSpec] = field(default_factory=list)
    title: str = ""  # the campaign's subject, used to recognize its report
    keywords: list[str] = field(default_factory=list)


@dataclass
class Section:
    key: str  # outline key, or "+1", "+2" ... for a section the outline does not have
    heading: str  # the heading as written in the document
    text: str
    confidence: float  # 0..1, how sure the heading match is
    extra: bool = False  # True when the outline has no such section


@dataclass
class Metadata:
    issuer: str | None = None
    number: str | None = None
    place: str | None = None
    date: datetime.date | None = None
    doc_type: str | None = None  # BÁO CÁO, QUYẾT ĐỊNH, QUY CHẾ ...
    summary: str | None = None  # the line(s) after the type: "Sơ kết 01 năm ..."
    signer: str | None = None
    signer_title: str | None = None

    def as_json(self) -> dict:
        return {
            "issuer": self.issuer,
            "number": self.number,
            "date": self.date.isoformat() if self.date else None,
            "signer": self.signer,
            "place": self.place,
            "doc_type": self.doc_type,
            "summary": self.summary,
            "signer_title": self.signer_title,
        }


@dataclass
class Signature:
    """One digital signature (ký số) in a file: who signed, when, and what could be checked.

    None means "not checked": no trust roots were given, or the format's signatures are only read
    (.docx XML signatures are not verified). Read by `extractors.signatures`, a pass of its own over
    the file's bytes, beside the reader and the analysis.
    """

    signer: str | None  # the certificate subject's common name (.docx: also the name typed on the signature line)
    organization: str | None  # subject OU then O, e.g. "SỞ NỘI VỤ, ỦY BAN NHÂN DÂN TỈNH BÌNH THUẬN"
    signed_at: datetime.datetime | None
    issuer: str | None  # the issuing CA's common name
    intact: bool | None  # the signed bytes are unchanged and the signature value verifies
    modified_after_signing: bool | None  # changed after it by more than signatures, annotations, form fields
    trusted: bool | None  # the chain reaches a root of the trust bundle; None: no bundle given
    valid_at_signing: bool | None = None  # signed_at lies within the certificate's validity
    revocation: str = "not_checked"  # not_checked | good | revoked | unknown (only from OCSP/CRL data in the file)
    time_source: str | None = None  # timestamp (a TSA's token) | signer (the signer's own clock, as written)
    modification: str | None = None  # pyHanko's level: none | lta_updates | form_filling | annotations | other
    location: str | None = None  # the PDF signature field, or the .docx signature part

    def as_json(self) -> dict:
        return {
            "signer": self.signer,
            "organization": self.organization,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
            "issuer": self.issuer,
            "intact": self.intact,
            "modified_after_signing": self.modified_after_signing,
            "trusted": self.trusted,
            "valid_at_signing": self.valid_at_signing,
            "revocation": self.revocation,
            "time_source": self.time_source,
            "modification": self.modification,
            "location": self.location,
        }


REPORT_KIND = "report"  # a file's kind when it is the campaign's report (extractors/classify.py)
OTHER_KIND = "other"  # ... when it is neither the report nor one of the campaign's attachments


@dataclass
class Extraction:
    """What the extractors know about one file, for one campaign profile."""

    format: str
    kind: str  # REPORT_KIND, an attachment id, or OTHER_KIND
    metadata: Metadata
    sections: list[Section]
    missing_sections: list[str]
    text: str  # the whole body, for search and mention checks
    flags: list[Flag] = field(default_factory=list)
    error: str | None = None
    signatures: list[Signature] = field(default_factory=list)  # PDF and .docx only, from their own pass
