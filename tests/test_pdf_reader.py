"""read_pdf on real PDFs built in memory with reportlab and the DejaVu fonts (Vietnamese glyphs)."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pytest
from PIL import Image
from reportlab.lib import pdfencrypt
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from extractors.pdf_reader import read_pdf
from tests.fixtures._pdf_util import register_fonts

FONTS = Path("/usr/share/fonts/truetype/dejavu")
WORD_MATH = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pdf" / "pdfjs_bug1937438_from_word.pdf"
pytestmark = pytest.mark.skipif(not (FONTS / "DejaVuSerif.ttf").exists(), reason="DejaVu fonts are not installed")


@pytest.fixture(scope="module", autouse=True)
def fonts():
    register_fonts()  # the fixtures' registration: fonts are process-wide, one home for them


def styles():
    body = ParagraphStyle("body", fontName="DejaVuSerif", fontSize=13, leading=17, alignment=TA_JUSTIFY,
                          firstLineIndent=1 * cm, spaceAfter=6)
    return {
        "body": body,
        "head": ParagraphStyle("head", parent=body, fontName="DejaVuSerif-Bold", firstLineIndent=0, spaceBefore=6),
        "title": ParagraphStyle("title", parent=body, fontName="DejaVuSerif-Bold", alignment=TA_CENTER,
                                firstLineIndent=0, fontSize=14),
        "sub": ParagraphStyle("sub", parent=body, alignment=TA_CENTER, firstLineIndent=0),
        "cell": ParagraphStyle("cell", fontName="DejaVuSerif", fontSize=13, leading=17, alignment=TA_CENTER),
        "cellb": ParagraphStyle("cellb", fontName="DejaVuSerif-Bold", fontSize=13, leading=17, alignment=TA_CENTER),
    }


LONG = ("Đảng ủy Sở Xây dựng hiện có 6 phòng chuyên môn, 324 cán bộ, công chức, viên chức và người lao động; "
        "tổng số đảng viên là 138 đồng chí, sinh hoạt tại 2 chi bộ trực thuộc. Cấp ủy đã tổ chức hội nghị quán "
        "triệt cho toàn thể đảng viên, đạt tỷ lệ 100%; hình thức quán triệt kết hợp trực tiếp và trực tuyến.")


def report_pdf(pages: int = 3, running_header: bool = True) -> bytes:
    st = styles()
    buffer = io.BytesIO()

    def decorate(c: canvas.Canvas, doc) -> None:
        c.setFont("DejaVuSerif", 11)
        c.drawCentredString(A4[0] / 2, 1.2 * cm, f"- {doc.page} -")  # bare page number
        if running_header and doc.page > 1:
            c.drawString(2 * cm, A4[1] - 1.2 * cm, "Báo cáo sơ kết Nghị quyết 03-NQ/ĐUK")

    letterhead = Table(
        [[[Paragraph("ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH", st["cell"]), Paragraph("ĐẢNG ỦY SỞ XÂY DỰNG", st["cellb"]),
           Paragraph("*", st["cell"]), Paragraph("Số 62-BC/ĐU", st["cell"])],
          [Paragraph("ĐẢNG CỘNG SẢN VIỆT NAM", st["cellb"]), Spacer(1, 17),
           Paragraph("Thanh Hóa, ngày 10 tháng 6 năm 2022", st["cell"])]]],
        colWidths=[7 * cm, 8.5 * cm])
    letterhead.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [
        letterhead, Spacer(1, 24),
        Paragraph("BÁO CÁO", st["title"]),
        Paragraph("Sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK, ngày 17/6/2021 của Đảng ủy Khối "
                  "các cơ quan tỉnh về thực hiện quy chế dân chủ ở cơ sở", st["sub"]),
        Spacer(1, 12),
        Paragraph("I. TÌNH HÌNH VÀ KẾT QUẢ TRIỂN KHAI THỰC HIỆN", st["head"]),
        Paragraph("1. Đặc điểm tình hình", st["head"]),
        Paragraph(LONG, st["body"]),
        Paragraph("Thuận lợi: cấp ủy và lãnh đạo cơ quan luôn quan tâm đến việc thực hiện quy chế dân chủ.",
                  st["body"]),
    ]
    for page in range(2, pages + 1):
        story += [PageBreak(), Paragraph(f"{page}. Kết quả phần {page}", st["head"]), Paragraph(LONG, st["body"])]
    SimpleDocTemplate(buffer, pagesize=A4, leftMargin=3 * cm, rightMargin=2 * cm, topMargin=2 * cm,
                      bottomMargin=2 * cm).build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def report():
    return read_pdf(report_pdf())


def find(doc, start: str):
    found = [b for b in doc.blocks if b.text.startswith(start)]
    assert found, f"no block starting {start!r} in {[b.text for b in doc.blocks]}"
    return found[0]


def test_vietnamese_text_round_trips_in_nfc(report):
    assert report.format == "pdf" and report.error is None and not report.flags
    for block in report.blocks:
        assert block.text == unicodedata.normalize("NFC", block.text)
    assert find(report, "Đảng ủy Sở Xây dựng").text == LONG


def test_wrapped_paragraph_is_one_block_and_signals(report):
    para = find(report, "Đảng ủy Sở Xây dựng")
    assert para.page == 1 and not para.bold and para.font_size == 13 and para.font_name == "DejaVuSerif"
    assert para.align == "justify"
    assert para.indent == pytest.approx(3 * cm + 6 + 1 * cm, abs=2)  # frame padding 6, first-line indent
    nxt = find(report, "Thuận lợi")
    assert nxt.text.endswith("ở cơ sở.") or nxt.text.endswith("dân chủ.")


def test_headings_are_separate_bold_blocks(report):
    h1 = find(report, "I. TÌNH HÌNH")
    h2 = find(report, "1. Đặc điểm")
    assert h1.text == "I. TÌNH HÌNH VÀ KẾT QUẢ TRIỂN KHAI THỰC HIỆN" and h1.bold and h1.caps
    assert h2.text == "1. Đặc điểm tình hình" and h2.bold and not h2.caps
    title = find(report, "BÁO CÁO")
    assert title.text == "BÁO CÁO" and title.bold and title.align == "center" and title.font_size == 14
    subtitle = find(report, "Sơ kết 01 năm")
    assert subtitle.text.endswith("quy chế dân chủ ở cơ sở") and subtitle.align == "center" and not subtitle.bold


def test_two_column_letterhead_reads_like_a_table(report):
    head = [b for b in report.blocks if b.cell is not None and b.cell[0] == 0]
    assert [(b.text, b.cell[2]) for b in head] == [
        ("ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH", 0),
        ("ĐẢNG ỦY SỞ XÂY DỰNG", 0),
        ("*", 0),
        ("Số 62-BC/ĐU", 0),
        ("ĐẢNG CỘNG SẢN VIỆT NAM", 1),
        ("Thanh Hóa, ngày 10 tháng 6 năm 2022", 1),
    ]
    assert report.blocks[: len(head)] == head  # the letterhead comes first
    assert head[1].bold and not head[0].bold and head[4].bold


def test_page_numbers_and_running_header_are_not_body(report):
    footers = [b for b in report.blocks if b.origin == "footer"]
    headers = [b for b in report.blocks if b.origin == "header"]
    assert [(b.text, b.page) for b in footers] == [("- 1 -", 1), ("- 2 -", 2), ("- 3 -", 3)]
    assert [b.page for b in headers] == [2, 3]
    assert all(b.text == "Báo cáo sơ kết Nghị quyết 03-NQ/ĐUK" for b in headers)
    assert not any("- 2 -" in b.text or "Báo cáo sơ kết" in b.text for b in report.body)
    assert [b.page for b in report.body if b.text.startswith(("2. Kết quả", "3. Kết quả"))] == [2, 3]


def test_image_only_page_needs_ocr(settings_env):
    settings_env(INTAKE_TESSERACT="/nonexistent/tesseract")  # OCR itself: tests/test_convert_ocr.py
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setFont("DejaVuSerif", 12)
    c.drawString(100, 700, "Trang có chữ")
    c.showPage()
    image = Image.new("RGB", (60, 40), "white")
    c.drawInlineImage(image, 100, 500, width=300, height=200)  # a "scan": no text at all
    c.showPage()
    c.showPage()  # a blank page is not a scan
    c.save()
    doc = read_pdf(buffer.getvalue())
    assert [b.text for b in doc.blocks] == ["Trang có chữ"]
    assert [(f.kind, f.detail) for f in doc.flags] == [
        ("needs_ocr", "page 2"), ("converter_missing", "tesseract is not installed: 1 scanned page(s) not read")]


def test_decomposed_marks_come_out_composed():
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setFont("DejaVuSerif", 12)
    c.drawString(100, 700, unicodedata.normalize("NFD", "Nghị quyết của Đảng ủy"))
    c.save()
    assert read_pdf(buffer.getvalue()).blocks[0].text == "Nghị quyết của Đảng ủy"


def test_tab_gap_on_one_line_is_split_into_columns():
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setFont("DejaVuSerif", 13)
    c.drawString(85, 300, "Nơi nhận:")
    c.drawString(330, 300, "T/M ĐẢNG ỦY")
    c.drawString(85, 283, "- Như trên;")
    c.drawString(350, 283, "BÍ THƯ")
    c.drawString(85, 266, "- Lưu VP.")
    c.drawString(340, 220, "Lê Quang Minh")
    c.save()
    blocks = read_pdf(buffer.getvalue()).blocks
    assert [(b.text, b.cell) for b in blocks] == [
        ("Nơi nhận:", (0, 0, 0)), ("- Như trên;", (0, 0, 0)), ("- Lưu VP.", (0, 0, 0)),
        ("T/M ĐẢNG ỦY", (0, 0, 1)), ("BÍ THƯ", (0, 0, 1)), ("Lê Quang Minh", (0, 0, 1)),
    ]


def test_encrypted_pdf_is_flagged():
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, encrypt=pdfencrypt.StandardEncryption("mat-khau", "chu-so-huu"))
    c.drawString(100, 700, "secret")
    c.save()
    doc = read_pdf(buffer.getvalue())
    assert doc.error and [f.kind for f in doc.flags] == ["encrypted"] and not doc.blocks


def test_pdf_with_only_an_owner_password_is_read():
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, encrypt=pdfencrypt.StandardEncryption("", "chu-so-huu", canPrint=0))
    c.setFont("DejaVuSerif", 12)
    c.drawString(100, 700, "Được đọc")
    c.save()
    doc = read_pdf(buffer.getvalue())
    assert doc.error is None and [b.text for b in doc.blocks] == ["Được đọc"]


@pytest.mark.parametrize("data", [b"", b"%PDF-1.4\nnot really", b"hello", None])
def test_corrupt_pdf_is_unreadable(data):
    if data is None:
        whole = report_pdf(pages=1)
        data = whole[: len(whole) // 3]
    doc = read_pdf(data)
    if doc.error is None:  # pdfium may repair a truncated file: then it must still be sane
        assert all(b.text for b in doc.blocks)
    else:
        assert doc.format == "pdf" and [f.kind for f in doc.flags] == ["unreadable"]


def test_a_page_pdfium_cannot_load_is_a_flag_and_the_others_are_read():
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer)
    for text in ("Trang một", "Trang hai"):
        c.setFont("DejaVuSerif", 12)
        c.drawString(100, 700, text)
        c.showPage()
    c.save()
    data = buffer.getvalue()
    kids = data[data.index(b"/Kids [") : data.index(b"]", data.index(b"/Kids ["))]
    broken = data.replace(kids, kids.rsplit(b" ", 3)[0] + b" 99 0 R ")  # the second page's object is missing
    doc = read_pdf(broken)
    assert doc.error is None and [b.text for b in doc.blocks] == ["Trang một"]
    assert [(f.kind, f.detail) for f in doc.flags] == [("unreadable", "page 2: Failed to load page.")]


def test_paragraph_running_over_a_page_break_stays_one_block():
    st = styles()
    buffer = io.BytesIO()

    def number(c: canvas.Canvas, doc) -> None:
        c.setFont("DejaVuSerif", 11)
        c.drawCentredString(A4[0] / 2, A4[1] - 1 * cm, str(doc.page))

    long_text = " ".join([LONG.rstrip(".")] * 4) + "."
    story = [Spacer(1, 20 * cm), Paragraph("2. Việc lãnh đạo", st["head"]), Paragraph(long_text, st["body"]),
             Paragraph("Đoạn tiếp theo.", st["body"])]
    SimpleDocTemplate(buffer, pagesize=A4, leftMargin=3 * cm, rightMargin=2 * cm, topMargin=2 * cm,
                      bottomMargin=2 * cm).build(story, onFirstPage=number, onLaterPages=number)
    doc = read_pdf(buffer.getvalue())
    body = [b for b in doc.blocks if b.origin == "body"]
    assert [b.text for b in body] == ["2. Việc lãnh đạo", long_text, "Đoạn tiếp theo."]
    assert body[1].page == 1 and body[2].page == 2
    assert [(b.origin, b.text) for b in doc.blocks if b.origin != "body"] == [("header", "1"), ("header", "2")]


def test_a_hyphen_at_a_line_end_is_the_printed_hyphen():
    # pdfium takes it for a word break and writes U+0002 in its place
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setFont("DejaVuSerif", 13)
    c.drawString(85, 700, "Theo Công văn số 2769/UBND-")
    c.drawString(85, 683, "NCKSTTHC, tính đến ngày 26/11/2024 có:")
    c.save()
    assert [b.text for b in read_pdf(buffer.getvalue()).blocks] == [
        "Theo Công văn số 2769/UBND-NCKSTTHC, tính đến ngày 26/11/2024 có:"]


def test_objects_interleaved_on_a_line_keep_their_own_text():
    # the page text is cut where pdfium says the drawing object changes: bold and regular runs of
    # one line, and two objects that meet without a space
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setFont("DejaVuSerif-Bold", 13)
    c.drawString(85, 700, "1.")
    c.setFont("DejaVuSerif", 13)
    c.drawString(85 + pdfmetrics.stringWidth("1. ", "DejaVuSerif-Bold", 13), 700, "Đảng ủy cơ sở")
    c.drawString(85, 600, "Chi")
    c.drawString(85 + pdfmetrics.stringWidth("Chi", "DejaVuSerif", 13), 600, "bộ")
    c.save()
    blocks = read_pdf(buffer.getvalue()).blocks
    assert [(b.text, b.bold) for b in blocks] == [("1. Đảng ủy cơ sở", False), ("Chibộ", False)]


def test_text_inside_a_form_xobject_is_placed_by_the_form_matrix():
    # letterheads and stamps are often drawn once as a form and placed where needed
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.beginForm("letterhead")
    c.setFont("DejaVuSerif-Bold", 13)
    c.drawString(0, 0, "ĐẢNG BỘ KHỐI")
    c.endForm()
    for y, scale in ((750, 1.0), (500, 1.5)):
        c.saveState()
        c.translate(85, y)
        c.scale(scale, scale)
        c.doForm("letterhead")
        c.restoreState()
    c.save()
    blocks = read_pdf(buffer.getvalue()).blocks
    assert [(b.text, b.font_size, b.bold) for b in blocks] == [("ĐẢNG BỘ KHỐI", 13.0, True),
                                                                ("ĐẢNG BỘ KHỐI", 19.5, True)]
    assert all(85 <= b.indent < 86 for b in blocks)  # the glyph's own edge, a little right of its origin


def test_text_filled_and_stroked_is_bold():
    # "fake bold": a regular font drawn with render mode 2 (fill, then stroke)
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    # the mode stays set for the text drawn after it (it is graphics state): the fake bold comes last
    for y, font, mode, text in ((700, "DejaVuSerif", 0, "Chữ thường"), (600, "DejaVuSerif-Bold", 0, "Chữ đậm"),
                                (500, "DejaVuSerif", 2, "Tô đậm giả")):
        line = c.beginText(85, y)
        line.setFont(font, 13)
        line.setTextRenderMode(mode)
        line.textLine(text)
        c.drawText(line)
    c.save()
    blocks = read_pdf(buffer.getvalue()).blocks
    assert [(b.text, b.bold) for b in blocks] == [("Chữ thường", False), ("Chữ đậm", True), ("Tô đậm giả", True)]


@pytest.mark.skipif(not WORD_MATH.exists(), reason="the shared corpus is absent")
def test_characters_outside_the_bmp_are_kept():
    # pdfium gives each UTF-16 half its own character index; Word's math italic π is one character
    text = " ".join(b.text for b in read_pdf(WORD_MATH.read_bytes()).blocks)
    assert "compute the square of 𝜋:" in text


def test_pages_drawn_glyph_by_glyph():
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    x = 100.0
    for char in "Đảng ủy Sở Xây dựng":  # one text object per glyph, as some producers do
        c.setFont("DejaVuSerif-Bold", 12)
        c.drawString(x, 700, char)
        x += pdfmetrics.stringWidth(char, "DejaVuSerif-Bold", 12)
    c.setFont("DejaVuSerif", 12)
    c.drawString(100, 680, "dòng thường")
    c.save()
    blocks = read_pdf(buffer.getvalue()).blocks
    assert [(b.text, b.bold) for b in blocks] == [("Đảng ủy Sở Xây dựng", True), ("dòng thường", False)]


def test_list_number_before_a_tab_stays_with_its_heading():
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setFont("DejaVuSerif-Bold", 13)
    c.drawString(85, 700, "I.")  # Word numbering exported to PDF: number, tab, text
    c.drawString(113, 700, "TÌNH HÌNH VÀ KẾT QUẢ")
    c.setFont("DejaVuSerif", 13)
    c.drawString(99, 680, "•")
    c.drawString(113, 680, "gạch đầu dòng")
    c.save()
    blocks = read_pdf(buffer.getvalue()).blocks
    assert [(b.text, b.bold, b.cell) for b in blocks] == [
        ("I. TÌNH HÌNH VÀ KẾT QUẢ", True, None), ("• gạch đầu dòng", False, None)]
