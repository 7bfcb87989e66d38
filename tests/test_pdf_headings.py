"""PDF headings laid out the way Word exports them: a numbered heading with a hanging indent wraps
with its second line under the title text, and must stay one block."""

from extractors.readers import read_document
from tests.fixtures import _pdf_util as px


def test_hanging_indent_continuation_stays_in_the_heading():
    st = px.styles()
    long_heading = ("2. Việc lãnh đạo, quán triệt, cụ thể hóa Nghị quyết số 03-NQ/ĐUK, ngày 17/6/2021 của Đảng ủy Khối "
                    "các cơ quan tỉnh")
    blob = px.build_pdf([px.para("1. Đặc điểm tình hình", st["heading"]), px.wrapped_heading([long_heading], st["heading"]),
                         px.para("Ngay sau khi Nghị quyết được ban hành, cấp ủy đã tổ chức quán triệt.", st["body"])])
    texts = [b.text for b in read_document(blob, "x.pdf").body if b.origin == "body"]
    assert long_heading in texts
    assert texts[-1].startswith("Ngay sau khi")
