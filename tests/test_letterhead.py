"""Letterheads whatever order their two columns come out in: PDFs whose columns never share a baseline,
names wrapped in a narrow cell, scans whose columns tesseract would read as one, and metadata from
letterhead lines in any order."""

from __future__ import annotations

import io
import itertools
import shutil
from datetime import date

import pytest
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from extractors import ocr
from extractors.metadata import extract_metadata
from extractors.model import Block
from extractors.pdf_reader import read_pdf
from tests.fixtures import _pdf_util as px
from tests.fixtures.corpus import Item
from tests.fixtures.documents import LETTERHEADS, Report
from tests.fixtures.saved_corpus import libreoffice_pdfs

LEFT = ["ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH", "CHI BỘ SỞ CÔNG THƯƠNG", "*", "Số 61-BC/CB"]
RIGHT = ["ĐẢNG CỘNG SẢN VIỆT NAM", "Thanh Hóa, ngày 3 tháng 6 năm 2022"]
SUMMARY = "Sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK"
EXPECTED = {"issuer": "CHI BỘ SỞ CÔNG THƯƠNG", "number": "61-BC/CB", "place": "Thanh Hóa", "date": "2022-06-03",
            "doc_type": "BÁO CÁO", "summary": SUMMARY}


def _letterhead_pdf(right_offset: float, title: str = "BÁO CÁO") -> bytes:
    """A letterhead whose right cell starts `right_offset` points lower than the left one (spacing
    before, a cell centred vertically), then the type line, the summary and a paragraph."""
    st = px.styles()
    table = Table([[[px.para(line, st["cell"], bold=i == 1) for i, line in enumerate(LEFT)],
                    [px.para(line, st["cell"], bold=i == 0) for i, line in enumerate(RIGHT)]]],
                  colWidths=[7.5 * cm, 8.5 * cm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (1, 0), (1, 0), right_offset),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    flow = [table, Spacer(1, 14), Paragraph(title, st["title"]), px.para(SUMMARY, st["center"])]
    flow += [px.para(BODY, st["body"])] * 3
    return px.build_pdf(flow)


BODY = ("Thực hiện Công văn số 125-CV/ĐUK ngày 25/5/2022 của Ban Thường vụ Đảng ủy Khối các cơ quan tỉnh về việc "
        "báo cáo sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK, Chi bộ Sở Công Thương báo cáo kết quả như sau:")


def _metadata(blocks: list[Block], ocr_read: bool = False) -> dict:
    meta = extract_metadata(blocks, ocr=ocr_read).as_json()
    return {k: meta[k] for k in EXPECTED}


@pytest.mark.parametrize("offset", [0, 7.5, 22])
def test_columns_read_as_cells_whether_or_not_their_lines_line_up(offset):
    # 7.5 points (half a line) lower: no line of the right column shares a baseline with the left one.
    doc = read_pdf(_letterhead_pdf(offset))
    cells = [(b.text, b.cell[2]) for b in doc.blocks if b.cell]
    assert cells == [(LEFT[0], 0), (LEFT[1], 0), ("*", 0), (LEFT[3], 0), (RIGHT[0], 1), (RIGHT[1], 1)]
    assert _metadata(doc.blocks) == EXPECTED


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) saves the PDF")
@pytest.mark.parametrize("letterhead", LETTERHEADS)
def test_names_and_dates_wrapped_in_narrow_cells_are_one_paragraph(letterhead, saved_corpus_dir):
    """LibreOffice wraps "CHI BỘ SỞ CÔNG" / "THƯƠNG" and "Thanh Hóa, ngày 3 tháng 6" / "năm 2022" in the
    letterhead's cells (DejaVu Serif, 14 points)."""
    report = Report("Chi bộ Sở Công Thương", "CHI BỘ SỞ CÔNG THƯƠNG", "61-BC/CB", (2022, 6, 3), "Trần Văn Long",
                    letterhead=letterhead)
    [pdf] = libreoffice_pdfs([Item("r.docx", report.docx(), "report", None, [], {})], saved_corpus_dir)
    doc = read_pdf(pdf.data)
    assert [(b.text, b.cell[2]) for b in doc.blocks if b.cell and b.cell[0] == 0] == [
        ("ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH", 0), ("CHI BỘ SỞ CÔNG THƯƠNG", 0), ("*", 0), ("Số 61-BC/CB", 0),
        ("ĐẢNG CỘNG SẢN VIỆT NAM", 1), ("Thanh Hóa, ngày 3 tháng 6 năm 2022", 1)]
    assert _metadata(doc.blocks) == dict(EXPECTED, summary=report.expected_metadata()["summary"])


def test_a_title_across_the_gutter_is_not_taken_into_a_column():
    doc = read_pdf(_letterhead_pdf(7.5, title="QUY CHẾ"))
    title = next(b for b in doc.blocks if b.text == "QUY CHẾ")
    assert title.cell is None
    assert _metadata(doc.blocks) == dict(EXPECTED, doc_type="QUY CHẾ")


def _lines(texts: list[str]) -> list[Block]:
    return [Block(text=t) for t in texts]


def _tail(title: str = "BÁO CÁO") -> list[Block]:
    return [Block(text=title, align="center"), Block(text=SUMMARY, align="center"),
            Block(text="Thực hiện Công văn số 125-CV/ĐUK, Chi bộ báo cáo như sau:", align="justify")]


@pytest.mark.parametrize("order", ["left first", "right first", "interleaved", "wrapped cells"])
def test_metadata_from_letterhead_lines_in_any_order(order):
    """What a reader gives when it cannot tell the columns apart: their lines, one block each."""
    lines = {
        "left first": LEFT + RIGHT,
        "right first": RIGHT + LEFT,
        "interleaved": [x for pair in itertools.zip_longest(LEFT, RIGHT) for x in pair if x],
        # both columns wrapped in narrow cells, then interleaved
        "wrapped cells": ["ĐẢNG BỘ KHỐI CÁC CƠ", "ĐẢNG CỘNG SẢN VIỆT", "QUAN TỈNH", "NAM", "CHI BỘ SỞ CÔNG THƯƠNG",
                          "Thanh Hóa, ngày 3 tháng 6", "*", "năm 2022", "Số 61-BC/CB"],
    }[order]
    assert _metadata(_lines(lines) + _tail()) == EXPECTED


def test_a_title_taken_into_a_letterhead_cell_is_still_the_type_line():
    blocks = [Block(text=t, cell=(0, 0, 0)) for t in LEFT + ["BÁO CÁO", SUMMARY]]
    blocks += [Block(text=t, cell=(0, 0, 1)) for t in RIGHT] + _tail()[2:]
    assert _metadata(blocks) == EXPECTED


def test_letter_spaced_type_line():
    assert _metadata(_lines(LEFT + RIGHT) + _tail("B Á O  C Á O")) == EXPECTED


def test_date_cited_in_a_sentence_is_not_the_documents_date():
    blocks = _lines(["ỦY BAN NHÂN DÂN TỈNH", "SỞ NỘI VỤ", "QUYẾT ĐỊNH", "Về việc thành lập Ban Chỉ đạo",
                     "Căn cứ Luật Cán bộ, công chức ngày 13/11/2008;"])
    meta = extract_metadata(blocks)
    assert (meta.issuer, meta.date, meta.doc_type) == ("SỞ NỘI VỤ", None, "QUYẾT ĐỊNH")


def test_a_regulation_is_dated_by_the_decision_issuing_it():
    blocks = _lines(["ỦY BAN NHÂN DÂN TỈNH", "SỞ NỘI VỤ", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "QUY CHẾ",
                     "Thực hiện dân chủ trong hoạt động của cơ quan Sở Nội vụ",
                     "(Ban hành kèm theo Quyết định số 75/QĐ-SNV ngày 26/8/2021 của Giám đốc Sở Nội vụ)",
                     "Chương I"])
    meta = extract_metadata(blocks)
    assert (meta.issuer, meta.number, meta.date) == ("SỞ NỘI VỤ", None, date(2021, 8, 26))
    assert meta.summary == "Thực hiện dân chủ trong hoạt động của cơ quan Sở Nội vụ"


def test_signature_of_a_decision_followed_by_the_regulation_it_issues():
    blocks = _lines(["QUYẾT ĐỊNH", "Điều 3. Quyết định này có hiệu lực kể từ ngày ký./."])
    blocks += [Block(text=t, cell=(1, 0, 0)) for t in ("Nơi nhận:", "- Như Điều 3;", "- Lưu: VT.")]
    blocks += [Block(text=t, cell=(1, 0, 1)) for t in ("GIÁM ĐỐC", "Nguyễn Văn Bình")]
    blocks += _lines(["QUY CHẾ", "Chương I", "Điều 1. Phạm vi điều chỉnh", "Quy chế này quy định ..."] * 4)
    meta = extract_metadata(blocks)
    assert (meta.signer, meta.signer_title) == ("Nguyễn Văn Bình", "GIÁM ĐỐC")


# ---- scans -------------------------------------------------------------------------------------

def _staggered_scan(dpi: int = 200) -> Image.Image:
    """A page image of a letterhead whose right column sits half a line lower than the left one."""
    scale = dpi / 72
    page = Image.new("L", (int(595 * scale), int(320 * scale)), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(f"{px.FONT_DIR}/DejaVuSerif.ttf", int(12 * scale))
    for centre, top, lines in ((180, 60, LEFT), (425, 69, RIGHT)):
        for i, line in enumerate(lines):
            draw.text((centre * scale, (top + 18 * i) * scale), line, font=font, fill=0, anchor="ms")
    for y, line in ((150, "BÁO CÁO"), (175, SUMMARY)):
        draw.text((300 * scale, y * scale), line, font=font, fill=0, anchor="ms")
    words, y = BODY.split(), 205
    while words:  # the body, wrapped at the width of the page's text
        line = []
        while words and font.getlength(" ".join([*line, words[0]])) < 450 * scale:
            line.append(words.pop(0))
        draw.text((85 * scale, y * scale), " ".join(line), font=font, fill=0, anchor="ls")
        y += 18
    return page


@pytest.mark.skipif(ocr.unavailable_reason() is not None, reason=f"OCR unavailable: {ocr.unavailable_reason()}")
def test_scanned_columns_are_read_apart():
    """tesseract alone reads a line of each column as one line and garbles both; each column is read
    again on its own."""
    buffer = io.BytesIO()
    _staggered_scan().save(buffer, format="PNG", dpi=(200, 200))
    doc = ocr.read_image(buffer.getvalue())
    cells = {b.text for b in doc.blocks if b.cell}
    assert {"Số 61-BC/CB", "Thanh Hóa, ngày 3 tháng 6 năm 2022"} <= cells
    assert _metadata(doc.blocks, ocr_read=True) == EXPECTED
