"""Pick the reader for a file: magic bytes first (mail attachments are often misnamed), name second."""

from __future__ import annotations

import codecs
import io
import zipfile
from collections.abc import Callable

from .convert import read_converted
from .docx_reader import OLE_MAGIC, is_encrypted_ooxml, read_docx
from .limits import safe_limits
from .model import Block, Document, Flag, FlagKind
from .pdf_reader import read_pdf
from .text import repair

_DOCX_EXTENSIONS = (".docx", ".docm", ".dotx", ".dotm")
_WORD_STREAM = "WordDocument".encode("utf-16-le")
# scans attached as pictures: JPEG, PNG, TIFF (both byte orders)
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*")


def read_document(data: bytes, filename: str) -> Document:
    """Read any supported file into blocks. Never raises: problems are an error and a flag."""
    try:
        fmt = sniff_format(data, filename)
        cap = safe_limits().max_attachment_bytes
        if len(data) > cap and fmt != "unknown":  # kept raw by the caller; reading it could exhaust memory
            detail = f"{len(data)} bytes, above the {cap}-byte limit (INTAKE_MAX_ATTACHMENT_MB): not read"
            return Document(fmt, error=f"file too large: {detail}", flags=[Flag(FlagKind.TOO_LARGE, detail)])
        if fmt == "docx":
            return _guard("docx", read_docx, data)
        if fmt == "pdf":
            return _guard("pdf", read_pdf, data)
        if fmt == "encrypted-docx":
            return Document("docx", error="password-protected .docx", flags=[Flag(FlagKind.ENCRYPTED, "password-protected .docx")])
        if fmt in ("doc", "rtf"):  # through LibreOffice, then the .docx reader
            return _guard(fmt, lambda d: read_converted(d, fmt), data)
        if fmt == "image":
            from .ocr import read_image  # local: PIL is only needed for scans
            return _guard("image", read_image, data)
        if fmt == "txt":
            return _guard("txt", read_text, data)
        if not data:
            return Document("unknown", error="empty file", flags=[Flag(FlagKind.UNREADABLE, "empty file")])
        return _unsupported("unknown", f"unrecognized file format: {filename or 'unnamed'}")
    except Exception as exc:  # the sniffing itself must not take a batch down either
        detail = f"{type(exc).__name__}: {exc}"
        return Document("unknown", error=detail, flags=[Flag(FlagKind.UNREADABLE, detail)])


def sniff_format(data: bytes, filename: str) -> str:
    """docx | pdf | doc | rtf | image | txt | encrypted-docx | unknown."""
    name = (filename or "").lower()
    head = data[:8]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if _zip_has_word_document(data) or name.endswith(_DOCX_EXTENSIONS):
            return "docx"
        return "unknown"  # .xlsx, .odt, .zip: not a report format we read
    if b"%PDF-" in data[:1024]:  # some producers put junk before the header; readers accept it
        return "pdf"
    if head == OLE_MAGIC:  # OLE2 holds .doc but also .xls, .ppt, .msg and encrypted OOXML
        if is_encrypted_ooxml(data):
            return "encrypted-docx"
        return "doc" if _WORD_STREAM in data or name.endswith((".doc", ".dot")) else "unknown"
    if data[:5] == b"{\\rtf":
        return "rtf"
    if data.startswith(_IMAGE_MAGIC):
        return "image"
    if name.endswith(_DOCX_EXTENSIONS):
        return "docx"  # a broken zip: the docx reader says why
    if name.endswith(".pdf"):
        return "pdf"
    if name.endswith((".doc", ".dot")):
        return "doc"
    if name.endswith(".rtf"):
        return "rtf"
    if name.endswith(".txt") and _decode_text(data) is not None:
        return "txt"
    return "unknown"


def read_text(data: bytes) -> Document:
    text = _decode_text(data)
    if text is None:
        return Document("txt", error="not UTF-8 or UTF-16 text", flags=[Flag(FlagKind.UNREADABLE, "not UTF-8 or UTF-16 text")])
    blocks = [Block(text=line) for line in (repair(raw) for raw in text.splitlines()) if line]
    return Document("txt", blocks=blocks)


def _decode_text(data: bytes) -> str | None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _zip_has_word_document(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = {n.lower() for n in zf.namelist()}
    except Exception:
        return False
    if "word/document.xml" in names:
        return True
    # a package whose main part lives elsewhere still declares a WordprocessingML content type
    return "[content_types].xml" in names and any(n.endswith(".xml") and n.startswith("word") for n in names)


def _guard(fmt: str, reader: Callable[[bytes], Document], data: bytes) -> Document:
    try:
        return reader(data)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        return Document(fmt, error=f"could not read the {fmt} file ({detail})", flags=[Flag(FlagKind.UNREADABLE, detail)])


def _unsupported(fmt: str, message: str) -> Document:
    return Document(fmt, error=message, flags=[Flag(FlagKind.UNSUPPORTED_FORMAT, message)])
