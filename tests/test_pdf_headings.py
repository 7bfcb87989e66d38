"""PDF headings laid out the way Word exports them: a numbered heading with a hanging indent wraps
with its second line under the title text, and must stay one block; an inline heading over two lines
runs on into its text. And what must never be a heading's or a section's text: footnote marks and notes."""

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph

from extractors.readers import read_document
from tests.fixtures import _footnotes as fn
from tests.fixtures import _pdf_util as px


def test_hanging_indent_continuation_stays_in_the_heading():
    st = px.styles()
    long_heading = ("2. Việc lãnh đạo, quán triệt, cụ thể hóa Nghị quyết số 03-NQ/ĐUK, ngày 17/6/2021 của Đảng ủy Khối "
                    "các cơ quan tỉnh")
    blob = px.build_pdf([px.para("1. Đặc điểm tình hình", st["heading"]),
                         px.wrapped_heading([long_heading], st["heading"]),
                         px.para("Ngay sau khi Nghị quyết được ban hành, cấp ủy đã tổ chức quán triệt.", st["body"])])
    texts = [b.text for b in read_document(blob, "x.pdf").body if b.origin == "body"]
    assert long_heading in texts
    assert texts[-1].startswith("Ngay sau khi")


def _body(blob: bytes) -> list[str]:
    return [b.text for b in read_document(blob, "x.pdf").body]


def test_inline_heading_over_two_lines_runs_on_into_its_text():
    """A bold heading that fills its line and ends, after a colon, on the next line where its text begins
    in regular type: one paragraph, so the heading is whole and the text is not left its last words."""
    st = px.styles()
    heading = ("2. Việc lãnh đạo, quán triệt, cụ thể hóa Nghị quyết số 03-NQ/ĐUK, ngày 17/6/2021 của Đảng ủy Khối "
               "các cơ quan tỉnh và các văn bản hướng dẫn của cấp trên")
    text = "Chi bộ tổ chức hội nghị quán triệt Nghị quyết cho 100% đảng viên."
    blob = px.build_pdf([px.para("1. Đặc điểm tình hình", st["heading"]),
                         px.para(text, st["body"], bold_prefix=f"{heading}:")])
    assert _body(blob)[-1] == f"{heading}: {text}"


def test_superscript_note_marks_are_not_text_but_powers_are():
    st = px.styles()
    blob = px.build_pdf([Paragraph("Ngay sau khi Nghị quyết số 03-NQ/ĐUK<super>1</super> được ban hành, cấp ủy đã "
                                   "tổ chức quán triệt cho toàn thể đảng viên<super>12</super>, đạt tỷ lệ 100%; "
                                   "hội trường rộng 250 m<super>2</super> được sửa chữa.", st["body"])])
    assert _body(blob) == ["Ngay sau khi Nghị quyết số 03-NQ/ĐUK được ban hành, cấp ủy đã tổ chức quán triệt cho toàn "
                           "thể đảng viên, đạt tỷ lệ 100%; hội trường rộng 250 m2 được sửa chữa."]


def test_footnotes_at_the_page_foot_are_notes():
    """Notes in small type under a rule at the foot of the page, each opened by its superscript mark
    (or by its number at full size, as LibreOffice prints them): "note" blocks, one per note."""
    st = px.styles()
    queue: list[int] = []
    long_note = ("Quy định số 124-QĐ/TW, ngày 10/10/2023 của Bộ Chính trị về kiểm điểm và đánh giá, xếp loại chất "
                 "lượng hằng năm đối với tập thể, cá nhân trong hệ thống chính trị.")
    first = "Cấp ủy đã ban hành kế hoạch[^1] và tổ chức kiểm điểm[^2] theo đúng quy định."
    flow = [fn.noted(Paragraph(fn.marked_markup(first), st["body"]), first, queue),
            px.para("1. Ưu điểm", st["heading"]), px.para("Đoàn kết, thống nhất trong cơ quan.", st["body"])]
    blob = fn.build_noted_pdf(flow, {1: "Kế hoạch số 12-KH/ĐU, ngày 02/3/2022.", 2: long_note}, queue)
    blocks = read_document(blob, "x.pdf").blocks
    assert [b.text for b in blocks if b.origin == "body"] == [fn.plain(first), "1. Ưu điểm",
                                                              "Đoàn kết, thống nhất trong cơ quan."]
    assert [b.text for b in blocks if b.origin == "note"] == ["Kế hoạch số 12-KH/ĐU, ngày 02/3/2022.", long_note]


def test_small_type_without_a_mark_and_text_starting_with_a_number_stay_body():
    """Only type clearly smaller than the document's text can be notes: not body lines under a bigger
    title, even one starting with a number; not small type that opens with no mark."""
    st = px.styles()
    flush = ParagraphStyle("flush", parent=st["body"], firstLineIndent=0)
    small = ParagraphStyle("small", parent=flush, fontSize=9, leading=11)
    filler = "Cấp ủy thường xuyên lãnh đạo, chỉ đạo việc thực hiện quy chế dân chủ trong cơ quan."
    numbered = "15 đồng chí được khen thưởng, 02 đồng chí được biểu dương trong năm."

    big = ParagraphStyle("big", parent=st["title"], fontSize=16, leading=20)

    def page(*last):  # a big title, then text down to the foot of the page
        return px.build_pdf([px.para("BÁO CÁO", big)] + [px.para(filler, flush) for _ in range(14)] + list(last))

    assert _body(page(px.para(numbered, flush), px.para(filler, flush)))[-2:] == [numbered, filler]
    note = "Ghi chú: số liệu tính đến ngày 31/5/2022."
    assert _body(page(px.para(note, small)))[-1] == note
