"""Every file format intake knows, in one registry: how it is recognized, how it is read, its names.

Which files are documents (read, classified and shown to staff), which are archives (opened, their
files attachments of their own) and which are neither is decided here and nowhere else: the
readers, the MIME parser, the archive expander and the derivation all ask `sniff` and the `Format`
it returns. Mail attachments are often misnamed, so the bytes decide first and the name second.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from .convert import read_converted
from .docx_reader import OLE_MAGIC, is_encrypted_ooxml, read_docx
from .model import Document
from .ocr import read_image
from .pdf_reader import read_pdf
from .txt_reader import decode_text, read_text


@dataclass(frozen=True)
class Format:
    name: str  # what Document.format and the documents table say
    label: str  # in messages: "an Excel workbook (.xlsx) is not read"
    extensions: tuple[str, ...] = ()  # lowercase, how a file name ends ("winmail.dat" too)
    media_types: tuple[str, ...] = ()  # the first one is stored for files of this format
    document: bool = False  # read into blocks, classified and shown to staff like any report
    archive: bool = False  # a container whose files are attachments of their own (extractors.archives)
    zip_package: bool = False  # a zip that is one file (OOXML, ODF, EPUB): never opened as an archive
    magic: tuple[bytes, ...] = ()  # how its bytes start
    reader: Callable[[bytes], Document] | None = None  # bytes -> Document; None: kept, not read
    # How much of the author's structure its reader recovers, to choose between two files of one
    # text (a signed PDF and its .docx): Word's own styles and numbering, then a PDF's lines, then OCR.
    fidelity: int = 0

    @property
    def media_type(self) -> str:
        return self.media_types[0] if self.media_types else "application/octet-stream"


DOCX = Format("docx", "Word document (.docx)", (".docx", ".docm", ".dotx", ".dotm"),
              ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
               "application/vnd.ms-word.document.macroenabled.12",
               "application/vnd.openxmlformats-officedocument.wordprocessingml.template"),
              document=True, zip_package=True, reader=read_docx, fidelity=3)
PDF = Format("pdf", "PDF", (".pdf",), ("application/pdf", "application/x-pdf"), document=True, reader=read_pdf,
             fidelity=2)
DOC = Format("doc", "Word 97-2003 document (.doc)", (".doc", ".dot"), ("application/msword",), document=True,
             reader=partial(read_converted, source_format="doc"), fidelity=3)  # converted to .docx
RTF = Format("rtf", "RTF document", (".rtf",), ("application/rtf", "text/rtf"), document=True, magic=(b"{\\rtf",),
             reader=partial(read_converted, source_format="rtf"), fidelity=3)
IMAGE = Format("image", "photo or scan", (".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff"),
               ("image/jpeg", "image/png", "image/tiff", "image/pjpeg", "image/x-png"), document=True,
               magic=(b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*"), reader=read_image)
TXT = Format("txt", "text file", (".txt",), ("text/plain",), document=True, reader=read_text, fidelity=1)
ZIP = Format("zip", "zip", (".zip",), ("application/zip", "application/x-zip-compressed"), archive=True)
SEVEN_ZIP = Format("7z", "7z", (".7z",), ("application/x-7z-compressed",), archive=True, magic=(b"7z\xbc\xaf\x27\x1c",))
RAR = Format("rar", "RAR", (".rar",), ("application/vnd.rar", "application/x-rar-compressed"), archive=True,
             magic=(b"Rar!\x1a\x07",))
TNEF = Format("tnef", "TNEF", ("winmail.dat", ".tnef"), ("application/vnd.ms-tnef", "application/ms-tnef"),
              archive=True, magic=(b"\x78\x9f\x3e\x22",))
# Known, kept, not read: no report arrives as one of these, but they must not be taken for archives.
XLSX = Format("xlsx", "Excel workbook (.xlsx)", (".xlsx", ".xlsm", ".xltx"),
              ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",), zip_package=True)
PPTX = Format("pptx", "PowerPoint presentation (.pptx)", (".pptx", ".ppsx"),
              ("application/vnd.openxmlformats-officedocument.presentationml.presentation",), zip_package=True)
ODT = Format("odt", "OpenDocument text (.odt)", (".odt",), ("application/vnd.oasis.opendocument.text",),
             zip_package=True)
ODS = Format("ods", "OpenDocument spreadsheet (.ods)", (".ods",), ("application/vnd.oasis.opendocument.spreadsheet",),
             zip_package=True)
ODP = Format("odp", "OpenDocument presentation (.odp)", (".odp",),
             ("application/vnd.oasis.opendocument.presentation",), zip_package=True)
EPUB = Format("epub", "e-book (.epub)", (".epub",), ("application/epub+zip",), zip_package=True)
PACKAGE = Format("package", "office document (a zip package, not an archive)", zip_package=True)
XLS = Format("xls", "Excel 97-2003 workbook (.xls)", (".xls",), ("application/vnd.ms-excel",))
UNKNOWN = Format("unknown", "file of an unknown format")

FORMATS: tuple[Format, ...] = (DOCX, PDF, DOC, RTF, IMAGE, TXT, ZIP, SEVEN_ZIP, RAR, TNEF, XLSX, PPTX, ODT, ODS, ODP,
                               EPUB, PACKAGE, XLS, UNKNOWN)
_BY_NAME = {f.name: f for f in FORMATS}
_BY_ENDING = sorted(((ext, f) for f in FORMATS for ext in f.extensions), key=lambda e: -len(e[0]))
_BY_MEDIA_TYPE = {t: f for f in FORMATS for t in f.media_types}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a member first, or an empty zip
_WORD_STREAM = "WordDocument".encode("utf-16-le")


def get(name: str) -> Format:
    """The format called `name` (a Document.format), UNKNOWN for any other name."""
    return _BY_NAME.get(name, UNKNOWN)


def by_filename(filename: str) -> Format | None:
    """The format a file name claims by how it ends, if any."""
    name = (filename or "").lower().rstrip(". ")
    return next((f for ext, f in _BY_ENDING if name.endswith(ext)), None)


def by_media_type(media_type: str) -> Format | None:
    """The format a declared media type ("application/pdf") claims, if any."""
    return _BY_MEDIA_TYPE.get((media_type or "").split(";")[0].strip().lower())


def media_type(filename: str) -> str | None:
    """The media type stored for a file of this name, None when the name says nothing we know."""
    named = by_filename(filename)
    return named.media_type if named and named.media_types else None


def sniff(data: bytes, filename: str = "") -> Format:
    """What a file is: its first bytes decide; its name only where they say nothing (or for a zip
    or OLE2 container, which holds many formats)."""
    named = by_filename(filename)
    if data.startswith(_ZIP_MAGIC):
        return _zip_format(data, named)
    if data.startswith(OLE_MAGIC):  # .doc, but also .xls, .ppt, .msg and password-protected OOXML
        if is_encrypted_ooxml(data):
            return DOCX  # its reader says it is password-protected
        if _WORD_STREAM in data or named is DOC:
            return DOC
        return named if named is not None and named.reader is None and not named.archive else UNKNOWN
    for fmt in FORMATS:
        if fmt.magic and data.startswith(fmt.magic):
            return fmt
    if b"%PDF-" in data[:1024]:  # some producers put junk before the header; readers accept it
        return PDF
    if named is TXT:
        return TXT if decode_text(data) is not None else UNKNOWN
    if named is not None and named.document:
        return named  # damaged or empty: its reader says why
    return UNKNOWN


def _zip_format(data: bytes, named: Format | None) -> Format:
    """A .docx, another zip package, or an archive (a zip that cannot be opened stays an archive,
    so that the expander reports it damaged, unless its name says it is a package)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except Exception:  # noqa: BLE001 - any failure here means "damaged zip"
        return named if named is not None and named.zip_package else ZIP
    names = {info.filename.lower() for info in infos}
    content_types = "[content_types].xml" in names
    if "word/document.xml" in names or (content_types and any(n.startswith("word") and n.endswith(".xml")
                                                               for n in names)):
        return DOCX  # a package whose main part lives elsewhere still declares WordprocessingML parts
    if named is not None and named.zip_package:
        return named  # a .docx without its main part: the reader says why
    if content_types or (infos and infos[0].filename == "mimetype"):  # OOXML; ODF and EPUB store it first
        return PACKAGE
    return ZIP
