"""extractors.formats, the one registry of file formats, and what its answers mean downstream: attached
photos and scans are documents, archives are opened, zip packages are not."""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from extractors import archives, formats
from extractors.readers import read_document
from pipeline.mime import guess_type, parse_mail
from tests.conftest import ROOT
from tests.fixtures._admin_pdf import quy_che_pdf
from tests.fixtures._docx_util import zip_bytes
from tests.fixtures.mail import VN, build_mail
from tests.fixtures.make_sample_inbox import REPORTS

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")


def scan(pdf: bytes, image_format: str, dpi: int = 200) -> bytes:
    """The first page of `pdf` as a scanner or a phone would send it."""
    page = pdfium.PdfDocument(pdf)[0].render(scale=dpi / 72, grayscale=True).to_pil()
    buffer = io.BytesIO()
    page.save(buffer, format=image_format, dpi=(dpi, dpi))
    return buffer.getvalue()


DOCX = REPORTS["so-xay-dung"].docx()
XLSX = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
ODT = zip_bytes({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
ZIP = zip_bytes({"a.txt": b"x"})


@pytest.mark.parametrize("data, name, expected", [
    (DOCX, "Document1.pdf", formats.DOCX),  # the bytes decide
    (DOCX[:400], "bao-cao.docx", formats.DOCX),  # a damaged .docx: its reader says why
    (XLSX, "bang.xlsx", formats.XLSX), (XLSX, "", formats.PACKAGE), (ODT, "", formats.PACKAGE),
    (ZIP, "ho-so.zip", formats.ZIP), (ZIP, "", formats.ZIP), (ZIP[:30], "ho-so.zip", formats.ZIP),
    (b"7z\xbc\xaf\x27\x1c\x00\x04", "", formats.SEVEN_ZIP), (b"Rar!\x1a\x07\x00", "x", formats.RAR),
    (b"\x78\x9f\x3e\x22\x00\x00", "winmail.dat", formats.TNEF),
    (b"\xff\xd8\xff\xe0 jpeg", "anh.jpg", formats.IMAGE), (b"\x89PNG\r\n\x1a\n", "", formats.IMAGE),
    (b"II*\x00 tiff", "scan0001.tif", formats.IMAGE), (b"MM\x00* tiff", "x.bin", formats.IMAGE),
    (b"{\\rtf1 x}", "phieu.doc", formats.RTF), (b"junk %PDF-1.7", "x", formats.PDF),
    ("Báo cáo".encode(), "bao-cao.txt", formats.TXT), ("Báo cáo".encode("cp1258"), "bao-cao.txt", formats.UNKNOWN),
    (b"MZ\x90\x00", "setup.exe", formats.UNKNOWN), (b"", "", formats.UNKNOWN),
])
def test_sniffing_by_bytes_first_then_by_name(data, name, expected):
    assert formats.sniff(data, name) is expected


def test_the_parser_the_expander_and_the_readers_agree():
    """A .docx or .xlsx is never opened as an archive; a zip always is; a damaged .docx is the reader's."""
    for data, name in ((DOCX, "bao-cao.docx"), (XLSX, "bang.xlsx"), (ODT, "x.odt"), (DOCX[:400], "bao-cao.docx")):
        assert not archives.is_archive(data, name) and archives.expand(data, name) == ([], [])
        mail = parse_mail(build_mail(sender="a@example.vn", sender_name="A", subject="x",
                                     received=datetime(2022, 6, 10, 9, 0, tzinfo=VN), attachments=[(name, data)]))
        assert [(a.filename, a.origin) for a in mail.attachments] == [(name, "mime")] and not mail.flags
    assert archives.archive_format(ZIP, "ho-so.zip") == "zip"
    assert read_document(ZIP, "ho-so.zip").error.startswith("ho-so.zip: a zip archive, not a document")
    assert read_document(XLSX, "bang.xlsx").format == "xlsx"


def test_media_types_of_files_come_from_the_registry():
    for fmt in formats.FORMATS:
        for ext in fmt.extensions:
            assert guess_type(f"tep{ext}" if ext.startswith(".") else ext) == fmt.media_type, ext
        for media_type in fmt.media_types:
            assert formats.by_media_type(media_type.upper()) is fmt
    assert guess_type("BAO CAO.DOCX") == formats.DOCX.media_type
    assert guess_type("ghi-am.mp3") == "audio/mpeg"  # the system's table for the rest


def test_which_formats_are_documents():
    assert {f.name for f in formats.FORMATS if f.document} == {"docx", "pdf", "doc", "rtf", "image", "txt"}
    assert {f.name for f in formats.FORMATS if f.archive} == {"zip", "7z", "rar", "tnef"}
    assert all(f.reader is not None for f in formats.FORMATS if f.document)
    assert not any(f.document and f.archive for f in formats.FORMATS)


def test_no_other_module_lists_formats():
    """One home: no extension tuple or set of format names outside extractors/formats.py."""
    extensions = sorted({e[1:] for f in formats.FORMATS for e in f.extensions if e.startswith(".")}, key=len,
                        reverse=True)
    names = "|".join(re.escape(f.name) for f in formats.FORMATS)
    alternatives = "|".join(map(re.escape, extensions))
    extension_literal = re.compile(rf"""["']\.(?:{alternatives})["']""", re.I)
    name_collection = re.compile(rf"""[(\[{{]\s*["'](?:{names})["']\s*,\s*["'](?:{names})["']""")
    offenders = []
    for folder in ("extractors", "pipeline", "rules"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "extractors" / "formats.py":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if extension_literal.search(line) or name_collection.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


# ---- attached photos and scans are documents -----------------------------------------------------------

def _ingest(run_cli, tmp_path: Path, mails: dict[str, bytes]) -> sqlite3.Connection:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name, raw in mails.items():
        (folder / name).write_bytes(raw)
    result = run_cli("ingest", str(folder))
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(tmp_path / "intake.db")
    db.row_factory = sqlite3.Row
    return db


def _xay_dung(received: datetime, attachments: list[tuple[str, bytes]], subject: str) -> bytes:
    return build_mail(sender="dangbo@sxd.example.vn", sender_name="Đảng bộ Sở Xây dựng", subject=subject,
                      received=received, attachments=attachments)


@needs_tesseract
def test_a_photographed_quy_che_is_read_classified_and_counts(run_cli, tmp_path):
    photo = scan(quy_che_pdf("Sở Xây dựng"), "JPEG")
    db = _ingest(run_cli, tmp_path, {
        "1.eml": _xay_dung(datetime(2022, 6, 14, 16, 5, tzinfo=VN), [("BC NQ03 - So Xay dung.docx", DOCX)],
                           "Báo cáo sơ kết Nghị quyết 03-NQ/ĐUK"),
        "2.eml": _xay_dung(datetime(2022, 6, 14, 17, 0, tzinfo=VN), [("IMG_20220614_165512.jpg", photo)],
                           "Gửi bổ sung ảnh chụp quy chế"),
    })
    doc = db.execute("select * from documents where format = 'image'").fetchone()
    assert (doc["filename"], doc["kind"], doc["doc_type"], doc["campaign_id"]) == (
        "IMG_20220614_165512.jpg", "quy_che_dan_chu", "QUY CHẾ", "nq03-2022")
    assert "Thực hiện dân chủ" in doc["text"]
    assert [r[0] for r in db.execute("select kind from flags where attachment = ?", [doc["id"]])] == ["ocr"]
    status = json.loads(run_cli("status", "--json", "--now", "2022-06-20T00:00:00+07:00").stdout)
    xay_dung = next(s for s in status if s["unit"] == "so-xay-dung")
    assert xay_dung["status"] == "on_time" and xay_dung["missing_attachments"] == []


def test_without_tesseract_photos_and_scans_are_documents_flagged(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("INTAKE_TESSERACT", "/nonexistent/tesseract")
    pdf = quy_che_pdf("Sở Xây dựng")
    files = [("anh-chup.jpg", scan(pdf, "JPEG", 100)), ("scan.png", scan(pdf, "PNG", 100)),
             ("scan0001.tif", scan(pdf, "TIFF", 100))]
    db = _ingest(run_cli, tmp_path, {"1.eml": _xay_dung(datetime(2022, 6, 14, 16, 5, tzinfo=VN), files,
                                                        "Quy chế dân chủ - Đảng bộ Sở Xây dựng")})
    rows = db.execute("""select d.filename, d.format, d.error, f.kind, f.detail from documents d
                         join flags f on f.attachment = d.id order by d.filename""").fetchall()
    assert [tuple(r) for r in rows] == [
        (name, "image", "tesseract is not installed: image not read", "converter_missing",
         "tesseract is not installed: image not read") for name in ("anh-chup.jpg", "scan.png", "scan0001.tif")]


def test_a_document_declared_as_a_zip_is_still_read(run_cli, tmp_path):
    raw = _xay_dung(datetime(2022, 6, 14, 16, 5, tzinfo=VN), [("BC NQ03 - So Xay dung.docx", DOCX)],
                    "Báo cáo sơ kết Nghị quyết 03-NQ/ĐUK")
    raw = raw.replace(b"application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"application/zip")
    db = _ingest(run_cli, tmp_path, {"1.eml": raw})
    assert [tuple(r) for r in db.execute("select content_type from attachments")] == [("application/zip",)]
    assert [tuple(r) for r in db.execute("select format, kind from documents")] == [("docx", "report")]
