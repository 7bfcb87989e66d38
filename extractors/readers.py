"""Read any file into blocks with the reader its format names (extractors.formats)."""

from __future__ import annotations

from collections.abc import Callable

from . import formats
from .limits import safe_limits
from .model import Document, Flag, FlagKind


def read_document(data: bytes, filename: str) -> Document:
    """Read any supported file into blocks. Never raises: problems are an error and a flag."""
    try:
        fmt = formats.sniff(data, filename)
        cap = safe_limits().max_attachment_bytes
        if len(data) > cap and fmt is not formats.UNKNOWN:  # kept raw by the caller; reading it could exhaust memory
            detail = f"{len(data)} bytes, above the {cap}-byte limit (INTAKE_MAX_ATTACHMENT_MB): not read"
            return Document(fmt.name, error=f"file too large: {detail}", flags=[Flag(FlagKind.TOO_LARGE, detail)])
        if fmt.reader is not None:
            return _guard(fmt.name, fmt.reader, data)
        if not data:
            return Document(fmt.name, error="empty file", flags=[Flag(FlagKind.UNREADABLE, "empty file")])
        if fmt is formats.UNKNOWN:
            return _unsupported(fmt.name, f"unrecognized file format: {filename or 'unnamed'}")
        if fmt.archive:
            return _unsupported(fmt.name, f"{filename or 'unnamed'}: a {fmt.label} archive, not a document "
                                          "(attached to a mail, each of its files is read)")
        return _unsupported(fmt.name, f"{filename or 'unnamed'}: {fmt.label}, not read")
    except Exception as exc:  # noqa: BLE001 - the sniffing itself must not take a batch down either
        detail = f"{type(exc).__name__}: {exc}"
        return Document("unknown", error=detail, flags=[Flag(FlagKind.UNREADABLE, detail)])


def _guard(fmt: str, reader: Callable[[bytes], Document], data: bytes) -> Document:
    try:
        return reader(data)
    except Exception as exc:  # noqa: BLE001 - whatever a reader trips on is a flag, never a traceback
        detail = f"{type(exc).__name__}: {exc}"
        return Document(fmt, error=f"could not read the {fmt} file ({detail})",
                        flags=[Flag(FlagKind.UNREADABLE, detail)])


def _unsupported(fmt: str, message: str) -> Document:
    return Document(fmt, error=message, flags=[Flag(FlagKind.UNSUPPORTED_FORMAT, message)])
