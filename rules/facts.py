"""The facts the checks work on, as plain data: what one mail brought for one campaign.

`pipeline` builds them from stored rows; the checks in `rules` never see SQL, MIME or files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class SignatureFacts:
    """One digital signature of a file, as far as the rules look: None is "not checked"."""

    intact: bool | None  # the signed bytes are unchanged and the signature verifies
    modified_after_signing: bool | None  # changed after it by more than signatures, annotations, form fields


@dataclass
class DocumentFacts:
    id: str
    filename: str
    kind: str  # "report", an attachment id, or "other"
    missing_sections: list[str] = field(default_factory=list)
    mentions: dict[str, bool | None] = field(default_factory=dict)  # attachment id → affirmed?
    flags: list[str] = field(default_factory=list)
    format: str = ""  # extractors.formats name: docx, pdf ...
    same_as: str | None = None  # files of the mail holding the same text share it (pipeline/derive.py)
    signatures: list[SignatureFacts] = field(default_factory=list)


@dataclass
class MailFacts:
    id: str  # the stored message's id (sha256 of its raw bytes)
    received_at: datetime | None
    unit: str | None
    content_key: str  # same Message-ID and content → same key: a duplicate delivery
    counted: bool = True  # False for auto-replies, mail unrelated to the campaign and mail staff set aside
    documents: list[DocumentFacts] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    sender: str | None = None  # the From address, for the addresses staff told intake to remember
    unit_basis: str | None = None  # how the unit was found (rules/attribution.py), or that staff said it
