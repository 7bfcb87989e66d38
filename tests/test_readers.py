"""read_document: format sniffing, the never-raise guarantee, and the shared corpus and contract files."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from pathlib import Path

import docx
import pytest
from reportlab.pdfgen import canvas

from extractors import formats
from extractors.docx_reader import read_docx
from extractors.model import Document
from extractors.readers import read_document
from tests.fixtures.cfb import build_cfb

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
CONTRACT = SHARED / "contract" / "docs"


def docx_bytes(*paragraphs: str) -> bytes:
    d = docx.Document()
    for text in paragraphs:
        d.add_paragraph(text)
    buffer = io.BytesIO()
    d.save(buffer)
    return buffer.getvalue()


def pdf_bytes(text: str = "Hello") -> bytes:
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer)
    c.drawString(100, 700, text)
    c.save()
    return buffer.getvalue()


def cfb(streams: list[str]) -> bytes:
    """A valid OLE2 compound file holding empty streams with these names."""
    return build_cfb(dict.fromkeys(streams, b""))


# ---- sniffing ---------------------------------------------------------------------------------
def test_magic_bytes_beat_the_file_name():
    assert read_document(docx_bytes("Nội dung"), "bao-cao.pdf").format == "docx"
    assert read_document(pdf_bytes(), "bao-cao.docx").format == "pdf"
    assert [b.text for b in read_document(docx_bytes("Nội dung"), "").blocks] == ["Nội dung"]
    assert formats.sniff(b"   junk %PDF-1.7 ...", "x") is formats.PDF  # junk before the header


def test_password_protected_docx_is_flagged_encrypted():
    data = cfb(["EncryptionInfo", "EncryptedPackage"])
    for doc in (read_document(data, "bao-cao.docx"), read_document(data, "anything.doc"), read_docx(data)):
        assert doc.format == "docx" and doc.error and [f.kind for f in doc.flags] == ["encrypted"]


def test_word_97_doc_and_rtf_without_libreoffice_are_flagged(settings_env):
    # real conversions: tests/test_convert_ocr.py
    settings_env(INTAKE_SOFFICE="/nonexistent/soffice")
    doc = read_document(cfb(["WordDocument", "1Table"]), "dinh-kem.bin")
    assert doc.format == "doc" and doc.error == "LibreOffice is not installed: Word 97-2003 .doc not read"
    assert [f.kind for f in doc.flags] == ["converter_missing"]
    sheet = read_document(cfb(["Workbook"]), "bang-tinh.xls")  # OLE2, but not Word
    assert sheet.format == "xls" and sheet.flags[0].kind == "unsupported_format"
    rtf = read_document(b"{\\rtf1\\ansi\\ansicpg1252 Xin ch\\u224?o}", "phieu-trinh.doc")
    assert rtf.format == "rtf" and rtf.flags[0].kind == "converter_missing" and "RTF not read" in rtf.error


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_text_files_become_one_block_per_line(encoding):
    text = "BÁO CÁO\r\n\r\n  Sơ kết 01 năm  \nI. TÌNH HÌNH\n"
    doc = read_document(unicodedata.normalize("NFD", text).encode(encoding), "bao-cao.txt")
    assert doc.format == "txt" and [b.text for b in doc.blocks] == ["BÁO CÁO", "Sơ kết 01 năm", "I. TÌNH HÌNH"]


def test_unknown_and_empty_files():
    broken_png = read_document(b"\x89PNG\r\n\x1a\n....", "scan.png")  # images are OCRed: this one is broken
    assert broken_png.format == "image" and broken_png.error and broken_png.flags[0].kind == "unreadable"
    not_utf8 = read_document("Báo cáo".encode("cp1258"), "bao-cao.txt")
    assert not_utf8.format == "unknown" and not_utf8.error
    empty = read_document(b"", "rong.docx")
    assert empty.error and empty.flags
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    sheet = read_document(other_zip.getvalue(), "bang.xlsx")
    assert sheet.format == "xlsx" and sheet.flags[0].kind == "unsupported_format"
    assert sheet.error == "bang.xlsx: Excel workbook (.xlsx), not read"


def test_broken_files_named_like_documents_are_unreadable_not_raised():
    for name, data in (("a.docx", docx_bytes("x")[:300]), ("a.pdf", b"%PDF-1.5\n%\xe2\xe3\n1 0 obj <<"),
                       ("a.docx", b"PK\x03\x04" + b"\0" * 100), ("a.pdf", b"")):
        doc = read_document(data, name)
        assert isinstance(doc, Document) and doc.error and doc.flags[0].kind in ("unreadable", "unsupported_format")


def test_random_bytes_never_raise():
    import random

    rng = random.Random(7)
    seeds = [docx_bytes("a b c"), pdf_bytes()]
    for _ in range(60):
        base = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 40)):  # flip bytes anywhere, including zip/xref structures
            base[rng.randrange(len(base))] = rng.randrange(256)
        doc = read_document(bytes(base), rng.choice(["x.docx", "x.pdf", "x.bin", "x.txt"]))
        assert isinstance(doc, Document)
        assert doc.error is None or doc.flags


# ---- shared corpus (read-only; skipped when absent) -------------------------------------------
def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = sorted((CORPUS / "docx").glob("*")) + sorted((CORPUS / "pdf").glob("*"))
    files += sorted(p for p in (CORPUS / "vi").glob("*") if p.suffix.lower() in (".docx", ".pdf"))
    return files


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: p.name)
def test_corpus_file_reads_without_raising(path: Path):
    doc = read_document(path.read_bytes(), path.name)
    assert isinstance(doc, Document)
    if doc.error:
        assert doc.flags and not doc.blocks
    for block in doc.blocks:
        assert block.text and block.text == unicodedata.normalize("NFC", block.text)
        assert block.origin in ("body", "header", "footer", "textbox", "note")


EXPECTED_ERRORS = {
    "poi_bug53475-password-is-pass.docx": "encrypted",
    "poi_clusterfuzz-XWPF-4791943399604224.docx": "unreadable",
    "poi_clusterfuzz-XWPF-5313273089884160.docx": "unreadable",
    "poi_clusterfuzz-XWPF-6442791109263360.docx": "unreadable",
    "poi_crash-517626e8.docx": "unreadable",
    "poi_truncated62886.docx": "unreadable",
    "pdfplumber_empty.pdf": "unreadable",
    "pdfplumber_password-example.pdf": "encrypted",
    "pypdf_r2-user-password.pdf": "encrypted",
    "pypdf_r4-aes-user-password.pdf": "encrypted",
    "pypdf_r6-user-password.pdf": "encrypted",
    "pypdf_libreoffice-writer-password.pdf": "encrypted",
}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_known_failures_are_named_right():
    for name, kind in EXPECTED_ERRORS.items():
        path = next(CORPUS.glob(f"*/{name}"), None)
        if path is None:
            continue
        doc = read_document(path.read_bytes(), path.name)
        assert doc.error and doc.flags[0].kind == kind, name


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_details():
    def read(rel: str) -> Document:
        path = CORPUS / rel
        if not path.exists():
            pytest.skip(f"{rel} missing")
        return read_document(path.read_bytes(), path.name)

    text = " ".join(b.text for b in read("docx/poi_ExternalEntityInText.docx").blocks)
    assert "poi.apache.org" not in text.lower() and "<html" not in text.lower()
    delins = " ".join(b.text for b in read("docx/poi_delins.docx").blocks)
    assert "Tika" in delins
    labels = [b.number_label for b in read("docx/poi_NumberingWOverrides.docx").blocks if b.list_item]
    assert labels == ["1", "B", "C", "A", "B", "4"]  # lvlOverride without startOverride continues the list
    restarted = {b.text: b.number_label for b in read("docx/poi_ComplexNumberedLists.docx").blocks}
    assert restarted["Restarted to 1 from 5"] == "1." and restarted["Jump to new list at 10"] == "10."
    assert restarted["Carrying on @ 13"] == "13."
    scanned = read("pdf/pypdf_imagemagick-CCITTFaxDecode.pdf")
    # a fax-like scan: OCR (when installed) finds no text in it, so the page stays flagged
    assert any(f.kind == "needs_ocr" and f.detail.startswith("page 1") for f in scanned.flags)


# ---- contract documents -----------------------------------------------------------------------
@pytest.mark.skipif(not CONTRACT.is_dir(), reason="contract documents not present")
def test_contract_docx_reports():
    for path in sorted(CONTRACT.glob("*.docx")):
        doc = read_document(path.read_bytes(), path.name)
        assert doc.error is None and doc.blocks, path.name
        letterhead = [b for b in doc.blocks if b.cell and b.cell[0] == 0]
        assert letterhead and letterhead[0].cell == (0, 0, 0), path.name
        print(f"== {path.name}")
        for b in doc.blocks:
            print(f"  {b.origin:6} {b.cell} {b.style} bold={b.bold} [{b.number_label}] {b.text[:70]}")
    numbered = read_document((CONTRACT / "so-cong-thuong.docx").read_bytes(), "so-cong-thuong.docx")
    heads = [(b.number_label, b.text) for b in numbered.blocks if b.number_label]
    assert heads[:3] == [("I.", "TÌNH HÌNH VÀ KẾT QUẢ TRIỂN KHAI THỰC HIỆN"), ("1.", "Đặc điểm tình hình"),
                         ("2.", "Việc lãnh đạo, quán triệt, cụ thể hóa Nghị quyết số 03-NQ/ĐUK, ngày 17/6/2021 "
                                "của Đảng ủy Khối các cơ quan tỉnh")]
    assert [label for label, _ in heads] == ["I.", "1.", "2.", "3.", "II.", "1.", "2.", "3.", "III."]
    noi_vu = read_document((CONTRACT / "so-noi-vu.docx").read_bytes(), "so-noi-vu.docx")
    cells = [(b.text, b.cell) for b in noi_vu.blocks if b.cell and b.cell[0] == 1]
    assert cells[:2] == [("Chỉ tiêu", (1, 0, 0)), ("Số lượng", (1, 0, 1))]


@pytest.mark.skipif(not (CONTRACT / "so-xay-dung.pdf").exists(), reason="contract PDF not present")
def test_contract_pdf_report():
    doc = read_document((CONTRACT / "so-xay-dung.pdf").read_bytes(), "so-xay-dung.pdf")
    print("== so-xay-dung.pdf")
    for b in doc.blocks:
        print(f"  p{b.page} {b.origin:6} {b.cell} bold={b.bold} {b.align:8} {b.text[:80]}")
    texts = [b.text for b in doc.blocks]
    heading = doc.blocks[texts.index("I - TÌNH HÌNH, KẾT QUẢ TRIỂN KHAI THỰC HIỆN NGHỊ QUYẾT")]
    sub = doc.blocks[texts.index("1 - Tình hình đặc điểm của đơn vị")]
    assert heading.bold and heading.caps and sub.bold and not sub.caps
    after = doc.blocks[texts.index("1 - Tình hình đặc điểm của đơn vị") + 1]
    assert after.text.startswith("Đảng ủy Sở Xây dựng hiện có") and after.text.endswith("2 chi bộ trực thuộc.")
    assert not after.bold
    for title in ("II - ĐÁNH GIÁ CHUNG", "III - KIẾN NGHỊ, ĐỀ XUẤT", "3 - Nguyên nhân của những hạn chế"):
        assert doc.blocks[texts.index(title)].bold
    letterhead = [(b.text, b.cell) for b in doc.blocks if b.cell and b.cell[0] == 0]
    assert letterhead == [
        ("ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH", (0, 0, 0)), ("ĐẢNG ỦY SỞ XÂY DỰNG", (0, 0, 0)), ("*", (0, 0, 0)),
        ("Số 62-BC/ĐU", (0, 0, 0)), ("ĐẢNG CỘNG SẢN VIỆT NAM", (0, 0, 1)),
        ("Thanh Hóa, ngày 10 tháng 6 năm 2022", (0, 0, 1)),
    ]
    assert "Sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK, ngày 17/6/2021 của Đảng ủy Khối các cơ quan tỉnh" in texts
    signature = [(b.text, b.cell[2]) for b in doc.blocks if b.cell and b.cell[0] == 1]
    assert ("- Ban Thường vụ Đảng ủy Khối (b/c),", 0) in signature and ("Lê Quang Minh", 1) in signature
