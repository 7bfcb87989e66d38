"""Every limit on hostile or broken input, in one place, read from INTAKE_MAX_* environment variables.

Mail comes from outside: an attachment, an archive, an XML part, a PDF or a MIME tree can be made
to exhaust memory or time. Each reader checks the limit that concerns it and turns a hit into a
`Flag` (never an exception that leaves the reader). The values are read from the environment on
every call (cheap), so worker processes and tests see the same settings as the CLI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

_MB = 1024 * 1024


class LimitsConfigError(ValueError):
    """An INTAKE_MAX_* (or timeout) variable that is not a positive number."""


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


# Environment variable -> field, and the unit the variable is written in.
ENV: dict[str, tuple[str, int]] = {
    "INTAKE_MAX_ATTACHMENT_MB": ("max_attachment_bytes", _MB),
    "INTAKE_MAX_ARCHIVE_MB": ("max_archive_bytes", _MB),
    "INTAKE_MAX_ARCHIVE_RATIO": ("max_archive_ratio", 1),
    "INTAKE_MAX_ARCHIVE_DEPTH": ("max_archive_depth", 1),
    "INTAKE_MAX_ARCHIVE_ENTRIES": ("max_archive_entries", 1),
    "INTAKE_MAX_XML_MB": ("max_xml_bytes", _MB),
    "INTAKE_MAX_XML_ELEMENTS": ("max_xml_elements", 1),
    "INTAKE_MAX_PDF_PAGES": ("max_pdf_pages", 1),
    "INTAKE_MAX_SECONDS_PER_FILE": ("max_seconds_per_file", 1),
    "INTAKE_MAX_MAIL_MB": ("max_mail_bytes", _MB),
    "INTAKE_MAX_MIME_PARTS": ("max_mime_parts", 1),
    "INTAKE_MAX_MIME_DEPTH": ("max_mime_depth", 1),
    "INTAKE_SOFFICE_TIMEOUT": ("soffice_timeout", 1),
    "INTAKE_OCR_TIMEOUT": ("ocr_timeout", 1),
}


def limits(env: dict[str, str] | None = None) -> Limits:
    """The limits in force: defaults, overridden by the environment. Raises LimitsConfigError."""
    env = os.environ if env is None else env
    types = {f.name: f.type for f in fields(Limits)}
    values: dict[str, float | int] = {}
    for var, (name, unit) in ENV.items():
        raw = (env.get(var) or "").strip()
        if not raw:
            continue
        try:
            number = float(raw) * unit
        except ValueError:
            number = -1.0
        if not number > 0:  # also rejects nan
            raise LimitsConfigError(f"{var} must be a positive number, not {raw!r}")
        values[name] = int(number) if types[name] in ("int", int) else number
    return Limits(**values)


def safe_limits() -> Limits:
    """limits(), or the defaults when the environment is broken: readers must never raise.
    The CLI validates the environment first (exit 2), so this fallback is only for library use."""
    try:
        return limits()
    except LimitsConfigError:
        return Limits()
