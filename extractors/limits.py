"""Every limit on hostile or broken input, in one place.

Mail comes from outside: an attachment, an archive, an XML part, a PDF or a MIME tree can be made
to exhaust memory or time. Each reader checks the limit that concerns it and turns a hit into a
`Flag` (never an exception that leaves the reader). The values are the caller's (the INTAKE_MAX_*
settings of pipeline/settings.py, installed through extractors/config.py).
"""

from __future__ import annotations

from dataclasses import dataclass

_MB = 1024 * 1024


class LimitExceeded(Exception):
    """Raised inside a reader when a limit is hit; the reader turns it into Flag(kind, detail)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


@dataclass(frozen=True)
class Limits:
    max_attachment_bytes: int = 50 * _MB  # bigger attachments are stored raw, not read (flag too_large)
    max_archive_bytes: int = 200 * _MB  # uncompressed bytes of one archive, nested ones included
    max_archive_ratio: float = 100.0  # uncompressed / compressed, per member past 1 MB
    max_archive_depth: int = 3  # archives opened, the outer one included
    max_archive_entries: int = 500  # members of one archive, nested ones included
    max_xml_bytes: int = 50 * _MB  # one uncompressed XML part of a .docx
    max_xml_elements: int = 2_000_000  # tags of one XML part (counted before parsing)
    max_pdf_pages: int = 300  # the first N pages are read (flag truncated)
    max_seconds_per_file: float = 120.0  # wall clock for one PDF, checked between pages (flag timeout)
    max_mail_bytes: int = 100 * _MB  # a bigger mail is stored whole, but only its headers are read
    max_mime_parts: int = 500  # parts of one mail, forwarded ones included
    max_mime_depth: int = 30  # multipart nesting
    soffice_timeout: float = 120.0  # one LibreOffice conversion
    ocr_timeout: float = 120.0  # one tesseract run (one page or image)


def safe_limits() -> Limits:
    """The limits in force: the caller's (extractors/config.py), else the defaults. Never raises."""
    from .config import current  # here, not at the top: config.py imports Limits from this module

    return current().limits
