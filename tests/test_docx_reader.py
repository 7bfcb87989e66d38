"""read_docx on real .docx files built in memory with python-docx (and its low-level oxml)."""

from __future__ import annotations

import copy
import io
import zipfile

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt
from lxml import etree

from extractors.docx_reader import read_docx
from extractors.docx_styles import StylesPart
from extractors.model import Document
from tests.fixtures import _footnotes as fn

W = nsdecls("w")
V = 'xmlns:v="urn:schemas-microsoft-com:vml"'


def save(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def body(doc: Document):
    return [b for b in doc.blocks if b.origin == "body"]


def by_text(doc: Document, text: str):
    found = [b for b in doc.blocks if b.text == text]
    assert found, f"no block {text!r} in {[b.text for b in doc.blocks]}"
    return found[0]


def append_xml(paragraph, xml: str) -> None:
    paragraph._p.append(parse_xml(xml))


# ---- body order, tables -----------------------------------------------------------------------
def test_paragraphs_and_tables_interleave_in_body_order():
    d = docx.Document()
    d.add_paragraph("Mở đầu")
    outer = d.add_table(rows=2, cols=2)
    outer.cell(0, 0).text = "A1"
    outer.cell(0, 1).text = "B1"
    outer.cell(1, 0).text = "A2"
    inner = outer.cell(1, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "lồng 1"
    inner.cell(0, 1).text = "lồng 2"
    d.add_paragraph("Giữa")
    last = d.add_table(rows=1, cols=1)
    last.cell(0, 0).text = "cuối"
    d.add_paragraph("Kết thúc")

    doc = read_docx(save(d))
    assert doc.format == "docx" and doc.error is None
    assert [(b.text, b.cell) for b in body(doc)] == [
        ("Mở đầu", None),
        ("A1", (0, 0, 0)),
        ("B1", (0, 0, 1)),
        ("A2", (0, 1, 0)),
        ("lồng 1", (1, 0, 0)),  # the nested table is numbered after its parent
        ("lồng 2", (1, 0, 1)),
        ("Giữa", None),
        ("cuối", (2, 0, 0)),
        ("Kết thúc", None),
    ]


def test_merged_cells_do_not_repeat_text():
    d = docx.Document()
    table = d.add_table(rows=3, cols=3)
    wide = table.cell(0, 0).merge(table.cell(0, 1))  # gridSpan
    wide.text = "gộp ngang"
    tall = table.cell(1, 2).merge(table.cell(2, 2))  # vMerge restart + continue
    tall.text = "gộp dọc"
    table.cell(0, 2).text = "C1"
    table.cell(2, 1).text = "B3"

    doc = read_docx(save(d))
    texts = [b.text for b in doc.blocks]
    assert texts.count("gộp ngang") == 1 and texts.count("gộp dọc") == 1
    assert by_text(doc, "C1").cell == (0, 0, 2)  # grid column, after the 2-column span
    assert by_text(doc, "gộp dọc").cell == (0, 1, 2)
    assert by_text(doc, "B3").cell == (0, 2, 1)


def test_letterhead_table_left_column_then_right():
    d = docx.Document()
    head = d.add_table(rows=1, cols=2)
    left, right = head.cell(0, 0), head.cell(0, 1)
    left.text = "ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH"
    left.add_paragraph("ĐẢNG ỦY SỞ NỘI VỤ")
    left.add_paragraph("*")
    left.add_paragraph("Số 60-BC/ĐU")
    right.text = "ĐẢNG CỘNG SẢN VIỆT NAM"
    right.add_paragraph("")  # empty paragraphs are skipped
    right.add_paragraph("Thanh Hóa, ngày 10 tháng 6 năm 2022")
    title = d.add_paragraph()
    title.add_run("BÁO CÁO").bold = True
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER

    blocks = read_docx(save(d)).blocks
    assert [(b.text, b.cell) for b in blocks] == [
        ("ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH", (0, 0, 0)),
        ("ĐẢNG ỦY SỞ NỘI VỤ", (0, 0, 0)),
        ("*", (0, 0, 0)),
        ("Số 60-BC/ĐU", (0, 0, 0)),
        ("ĐẢNG CỘNG SẢN VIỆT NAM", (0, 0, 1)),
        ("Thanh Hóa, ngày 10 tháng 6 năm 2022", (0, 0, 1)),
        ("BÁO CÁO", None),
    ]
    assert blocks[0].caps and not blocks[5].caps
    assert blocks[-1].bold and blocks[-1].caps and blocks[-1].align == "center"


# ---- numbering --------------------------------------------------------------------------------
def _level(ilvl: int, fmt: str, text: str, start: int = 1, extra: str = "") -> str:
    return (f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="{start}"/><w:numFmt w:val="{fmt}"/>'
            f'<w:lvlText w:val="{text}"/>{extra}'
            f'<w:pPr><w:ind w:left="{360 * (ilvl + 1)}" w:hanging="360"/></w:pPr></w:lvl>')


def add_numbering(d, abstract_id: int, levels: str, nums: dict[int, str]) -> None:
    """Add an abstractNum and its nums (numId -> inner XML such as a lvlOverride)."""
    numbering = d.part.numbering_part.element
    abstract = parse_xml(f'<w:abstractNum {W} w:abstractNumId="{abstract_id}">{levels}</w:abstractNum>')
    first_num = numbering.find(qn("w:num"))
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    for num_id, inner in nums.items():
        numbering.append(parse_xml(
            f'<w:num {W} w:numId="{num_id}"><w:abstractNumId w:val="{abstract_id}"/>{inner}</w:num>'))


def set_num(paragraph, num_id: int, ilvl: int | None = None) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    lvl = f'<w:ilvl w:val="{ilvl}"/>' if ilvl is not None else ""
    ppr.append(parse_xml(f'<w:numPr {W}>{lvl}<w:numId w:val="{num_id}"/></w:numPr>'))


def style_num(style, num_id: int, ilvl: int | None) -> None:
    ppr = style.element.get_or_add_pPr()
    lvl = f'<w:ilvl w:val="{ilvl}"/>' if ilvl is not None else ""
    ppr.insert(0, parse_xml(f'<w:numPr {W}>{lvl}<w:numId w:val="{num_id}"/></w:numPr>'))


def test_word_numbering_rebuilds_heading_numbers():
    d = docx.Document()
    add_numbering(d, 900, _level(0, "upperRoman", "%1.") + _level(1, "decimal", "%2."),
                  {901: "", 902: '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride>'})
    style_num(d.styles["Heading 1"], 901, 0)
    style_num(d.styles["Heading 2"], 901, 1)
    d.add_heading("TÌNH HÌNH VÀ KẾT QUẢ", level=1)
    d.add_heading("Đặc điểm tình hình", level=2)
    d.add_paragraph("Nội dung không đánh số.")
    d.add_heading("Việc lãnh đạo, quán triệt", level=2)
    d.add_heading("ĐÁNH GIÁ CHUNG", level=1)
    d.add_heading("Ưu điểm", level=2)  # a higher level restarts the lower one
    direct = d.add_paragraph("Hạn chế (numPr trực tiếp)")
    set_num(direct, 901, 1)
    off = d.add_heading("Tiêu đề bỏ đánh số", level=1)
    set_num(off, 0)  # numId 0 switches the style's numbering off
    d.add_heading("ĐỀ XUẤT", level=1)
    other = d.add_paragraph("Danh sách mới")
    set_num(other, 902, 0)  # shares the abstractNum but restarts at its startOverride

    doc = read_docx(save(d))
    labels = [(b.number_label, b.text) for b in doc.blocks]
    assert labels == [
        ("I.", "TÌNH HÌNH VÀ KẾT QUẢ"),
        ("1.", "Đặc điểm tình hình"),
        (None, "Nội dung không đánh số."),
        ("2.", "Việc lãnh đạo, quán triệt"),
        ("II.", "ĐÁNH GIÁ CHUNG"),
        ("1.", "Ưu điểm"),
        ("2.", "Hạn chế (numPr trực tiếp)"),
        (None, "Tiêu đề bỏ đánh số"),
        ("III.", "ĐỀ XUẤT"),
        ("I.", "Danh sách mới"),
    ]
    first = doc.blocks[0]
    assert first.style == "Heading 1" and first.outline_level == 0 and first.list_item
    assert first.full_text == "I. TÌNH HÌNH VÀ KẾT QUẢ"
    assert doc.blocks[1].outline_level == 1 and doc.blocks[1].indent == 36.0  # the level's w:ind
    assert not doc.blocks[2].list_item and not doc.blocks[7].list_item


def test_multilevel_labels_letters_and_bullets():
    d = docx.Document()
    add_numbering(d, 910, _level(0, "decimal", "%1.") + _level(1, "decimal", "%1.%2.")
                  + _level(2, "lowerLetter", "%3)"), {911: ""})
    add_numbering(d, 920, _level(0, "bullet", "•"), {921: ""})
    add_numbering(d, 930, _level(0, "upperLetter", "%1.", start=3), {931: "", 932: ""})
    add_numbering(d, 940, _level(0, "decimal", "%1.")
                  + _level(1, "lowerRoman", "(%2)", extra='<w:lvlRestart w:val="0"/>')
                  + _level(2, "decimal", "%1.%2.%3", extra='<w:isLgl/>'), {941: ""})
    for text, ilvl in (("một", 0), ("một chấm một", 1), ("chữ a", 2), ("chữ b", 2), ("một chấm hai", 1),
                       ("hai", 0), ("hai chấm một", 1)):
        set_num(d.add_paragraph(text), 911, ilvl)
    set_num(d.add_paragraph("gạch đầu dòng"), 921, 0)
    set_num(d.add_paragraph("chữ C"), 931, 0)
    set_num(d.add_paragraph("chữ D (num khác, cùng danh sách)"), 932, 0)
    for text, ilvl in (("một", 0), ("i", 1), ("ii", 1), ("hai", 0), ("iii, không bắt đầu lại", 1), ("pháp lý", 2)):
        set_num(d.add_paragraph(text), 941, ilvl)

    doc = read_docx(save(d))
    assert [b.number_label for b in doc.blocks] == ["1.", "1.1.", "a)", "b)", "1.2.", "2.", "2.1.", None, "C.", "D.",
                                                    "1.", "(i)", "(ii)", "2.", "(iii)", "2.3.1"]
    bullet = by_text(doc, "gạch đầu dòng")
    assert bullet.list_item and bullet.number_label is None


# ---- signals ----------------------------------------------------------------------------------
def test_style_chain_signals_bold_size_indent_alignment_outline():
    d = docx.Document()
    styles = d.styles
    base = styles.add_style("Tieu de co so", WD_STYLE_TYPE.PARAGRAPH)
    base.base_style = styles["Normal"]
    base.font.bold = True
    base.font.size = Pt(14)
    base.font.name = "Times New Roman"
    base.paragraph_format.left_indent = Pt(18)
    base.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    base.element.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {W} w:val="1"/>'))
    child = styles.add_style("Tieu de con", WD_STYLE_TYPE.PARAGRAPH)
    child.base_style = base  # sets nothing itself: everything comes through basedOn
    strong = styles.add_style("Nhan manh", WD_STYLE_TYPE.CHARACTER)
    strong.font.bold = True

    d.add_paragraph("Kế thừa từ kiểu gốc", style="Tieu de con")
    p = d.add_paragraph("Tắt đậm ở run", style="Tieu de con")
    p.runs[0].bold = False  # <w:b w:val="0"/>
    d.add_paragraph().add_run("Đậm nhờ kiểu ký tự", style="Nhan manh")
    mostly = d.add_paragraph()
    mostly.add_run("chín chữ đậm ở đây").bold = True
    mostly.add_run(" x")
    half = d.add_paragraph()
    half.add_run("nửa đậm").bold = True
    half.add_run(" nửa thường")
    d.add_paragraph("Tiêu đề ba", style="Heading 3")
    caps = d.add_paragraph()
    caps.add_run("chữ hoa bằng định dạng").font.all_caps = True
    d.add_paragraph("Kiểu Normal")

    doc = read_docx(save(d))
    inherited = by_text(doc, "Kế thừa từ kiểu gốc")
    assert inherited.style == "Tieu de con"
    assert inherited.bold and inherited.font_size == 14 and inherited.font_name == "Times New Roman"
    assert inherited.indent == 18 and inherited.align == "center" and inherited.outline_level == 1
    assert not by_text(doc, "Tắt đậm ở run").bold
    assert by_text(doc, "Đậm nhờ kiểu ký tự").bold
    assert by_text(doc, "chín chữ đậm ở đây x").bold  # >= 80 % of the characters
    assert not by_text(doc, "nửa đậm nửa thường").bold
    assert by_text(doc, "Tiêu đề ba").outline_level == 2
    assert by_text(doc, "chữ hoa bằng định dạng").caps
    normal = by_text(doc, "Kiểu Normal")
    assert normal.style == "Normal" and not normal.bold and normal.outline_level is None
    assert normal.font_size == 11  # python-docx's template: docDefaults w:sz 22 half-points
    assert normal.align == "left" and normal.indent == 0


def test_text_rules_links_fields_revisions_breaks():
    d = docx.Document()
    p = d.add_paragraph("Xem ")
    append_xml(p, f'<w:hyperlink {nsdecls("w", "r")} r:id="rId999"><w:r><w:t>liên kết</w:t></w:r></w:hyperlink>')
    append_xml(p, f'<w:smartTag {W} w:uri="x" w:element="place">'
                  '<w:r><w:t xml:space="preserve"> Hà Nội</w:t></w:r></w:smartTag>')
    fields = d.add_paragraph("Trang ")
    append_xml(fields, f'<w:fldSimple {W} w:instr="PAGE"><w:r><w:t>7</w:t></w:r></w:fldSimple>')
    for xml in ('<w:r><w:fldChar w:fldCharType="begin"/></w:r>',
                '<w:r><w:instrText xml:space="preserve"> DATE \\@ "dd/MM/yyyy" </w:instrText></w:r>',
                '<w:r><w:fldChar w:fldCharType="separate"/></w:r>',
                '<w:r><w:t xml:space="preserve"> ngày 10/6/2022</w:t></w:r>',
                '<w:r><w:fldChar w:fldCharType="end"/></w:r>'):
        append_xml(fields, xml.replace("<w:r>", f"<w:r {W}>", 1))
    revised = d.add_paragraph("Giữ ")
    append_xml(revised, f'<w:del {W} w:id="1" w:author="a"><w:r><w:delText>đã xóa </w:delText></w:r></w:del>')
    append_xml(revised, f'<w:ins {W} w:id="2" w:author="a"><w:r><w:t>đã chèn</w:t></w:r></w:ins>')
    breaks = d.add_paragraph("cột1")
    append_xml(breaks, f'<w:r {W}><w:tab/><w:t>cột2</w:t><w:br/><w:t>dòng mới</w:t></w:r>')
    hidden = d.add_paragraph("hiện")
    append_xml(hidden, f'<w:r {W}><w:rPr><w:vanish/></w:rPr><w:t> ẩn</w:t></w:r>')
    d.add_paragraph("")
    d.add_paragraph("   ")

    texts = [b.text for b in read_docx(save(d)).blocks]
    assert texts == ["Xem liên kết Hà Nội", "Trang 7 ngày 10/6/2022", "Giữ đã chèn", "cột1 cột2\ndòng mới", "hiện"]


MC_TEXTBOX = f"""
<w:r {nsdecls("w", "wp", "a")} {V}
     xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
     xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">
  <mc:AlternateContent>
    <mc:Choice Requires="wps">
      <w:drawing><wp:anchor distT="0" distB="0" distL="0" distR="0" simplePos="0" relativeHeight="1"
          behindDoc="0" locked="0" layoutInCell="1" allowOverlap="1">
        <wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="column"><wp:posOffset>0</wp:posOffset></wp:positionH>
        <wp:positionV relativeFrom="paragraph"><wp:posOffset>0</wp:posOffset></wp:positionV>
        <wp:extent cx="914400" cy="457200"/><wp:wrapNone/><wp:docPr id="5" name="Text Box 5"/>
        <a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">
          <wps:wsp><wps:txbx><w:txbxContent>
            <w:p><w:r><w:rPr><w:b/></w:rPr><w:t>DỰ THẢO</w:t></w:r></w:p>
          </w:txbxContent></wps:txbx><wps:bodyPr/></wps:wsp>
        </a:graphicData></a:graphic></wp:anchor></w:drawing>
    </mc:Choice>
    <mc:Fallback>
      <w:pict><v:shape id="tb5" style="width:72pt;height:36pt"><v:textbox><w:txbxContent>
        <w:p><w:r><w:rPr><w:b/></w:rPr><w:t>DỰ THẢO</w:t></w:r></w:p>
      </w:txbxContent></v:textbox></v:shape></w:pict>
    </mc:Fallback>
  </mc:AlternateContent>
</w:r>"""


def test_text_box_read_once_as_textbox_block():
    d = docx.Document()
    anchor = d.add_paragraph("Đoạn có hộp văn bản")
    append_xml(anchor, MC_TEXTBOX)
    d.add_paragraph("Đoạn sau")
    vml = d.add_paragraph("Chỉ VML")
    append_xml(vml, f'<w:r {W} {V}><w:pict><v:shape><v:textbox><w:txbxContent>'
                    f'<w:p><w:r><w:t>hộp cũ</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict></w:r>')

    doc = read_docx(save(d))
    assert [(b.origin, b.text) for b in doc.blocks] == [
        ("body", "Đoạn có hộp văn bản"),
        ("textbox", "DỰ THẢO"),
        ("body", "Đoạn sau"),
        ("body", "Chỉ VML"),
        ("textbox", "hộp cũ"),
    ]
    assert doc.blocks[1].bold


def test_headers_and_footers_come_after_the_body():
    d = docx.Document()
    section = d.sections[0]
    section.header.paragraphs[0].text = "ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH"
    section.footer.paragraphs[0].text = "Trang chân"
    d.add_paragraph("Nội dung chính")
    d.add_table(rows=1, cols=1).cell(0, 0).text = "ô"

    blocks = read_docx(save(d)).blocks
    assert [(b.origin, b.text) for b in blocks] == [
        ("body", "Nội dung chính"),
        ("body", "ô"),
        ("header", "ĐẢNG BỘ KHỐI CÁC CƠ QUAN TỈNH"),
        ("footer", "Trang chân"),
    ]


def test_footnotes_and_endnotes_are_notes_and_their_marks_leave_no_text():
    """The notes parts are read as "note" blocks after the body, never inlined into it; a reference
    mark (w:footnoteReference, and a custom mark "*" following it in its run) leaves nothing in the text."""
    d = docx.Document()
    para = d.add_paragraph()
    fn.add_marked_runs(para, "Thực hiện Nghị quyết số 03-NQ/ĐUK[^1], cấp ủy đã ban hành kế hoạch[^2].")
    custom = d.add_paragraph("Số liệu tính đến ngày 31/5/2022")
    append_xml(custom, f'<w:r {W}><w:footnoteReference w:customMarkFollows="1" w:id="3"/><w:t>*</w:t></w:r>')
    append_xml(custom, f'<w:r {W}><w:endnoteReference w:id="1"/></w:r>')
    d.add_paragraph("Đoạn cuối.")
    fn.add_footnotes_part(d, {1: "Nghị quyết ngày 17/6/2021.", 2: "Kế hoạch số 12-KH/ĐU.", 3: "Theo Văn phòng."})
    fn.add_footnotes_part(d, {1: "Chú thích cuối văn bản."}, endnotes=True)

    blocks = read_docx(save(d)).blocks
    assert [(b.origin, b.text) for b in blocks] == [
        ("body", "Thực hiện Nghị quyết số 03-NQ/ĐUK, cấp ủy đã ban hành kế hoạch."),
        ("body", "Số liệu tính đến ngày 31/5/2022"),
        ("body", "Đoạn cuối."),
        ("note", "Nghị quyết ngày 17/6/2021."),
        ("note", "Kế hoạch số 12-KH/ĐU."),
        ("note", "Theo Văn phòng."),
        ("note", "Chú thích cuối văn bản."),
    ]


# ---- hostile and broken input -----------------------------------------------------------------
def _rewrite_part(data: bytes, name: str, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            dst.writestr(info, change(content) if info.filename == name else content)
    return out.getvalue()


def test_entities_are_never_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("BÍ MẬT")
    d = docx.Document()
    d.add_paragraph("PLACEHOLDER")

    def inject(xml: bytes) -> bytes:
        doctype = (f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret}">'
                   '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                   '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>').encode()
        xml = xml.replace(b"<w:document", doctype + b"<w:document", 1)
        return xml.replace(b"PLACEHOLDER", b"truoc &xxe;&c; sau")

    doc = read_docx(_rewrite_part(save(d), "word/document.xml", inject))
    assert doc.error is None
    text = " ".join(b.text for b in doc.blocks)
    assert "BÍ MẬT" not in text and "aaaaaaaaaa" not in text
    assert "truoc" in text and "sau" in text


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04garbage", b"\x00" * 64])
def test_garbage_gives_error_and_flag(data):
    doc = read_docx(data)
    assert doc.format == "docx" and doc.error and doc.flags[0].kind == "unreadable"


def test_truncated_and_bodiless_packages():
    data = save(docx.Document())
    truncated = read_docx(data[: len(data) // 2])
    assert truncated.error and truncated.flags[0].kind == "unreadable"
    broken = read_docx(_rewrite_part(data, "word/document.xml", lambda xml: xml[:-40]))
    assert broken.error and broken.flags[0].kind == "unreadable"


def test_package_without_styles_or_numbering_parts():
    d = docx.Document()
    h = d.add_paragraph("Đề mục")
    set_num(h, 5, 0)  # refers to a numbering part that will be gone
    data = save(d)
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename not in ("word/styles.xml", "word/numbering.xml"):
                dst.writestr(info, src.read(info))
    doc = read_docx(out.getvalue())
    assert doc.error is None and [b.text for b in doc.blocks] == ["Đề mục"]
    assert doc.blocks[0].number_label is None


def test_strict_namespace_is_read():
    d = docx.Document()
    d.add_paragraph("Văn bản strict")
    strict = b"http://purl.oclc.org/ooxml/wordprocessingml/main"
    data = _rewrite_part(save(d), "word/document.xml",
                         lambda xml: xml.replace(b"http://schemas.openxmlformats.org/wordprocessingml/2006/main",
                                                 strict))
    assert [b.text for b in read_docx(data).blocks] == ["Văn bản strict"]


def test_text_is_repaired_to_nfc():
    d = docx.Document()
    d.add_paragraph("Đe\u0302\u0300 cương cu\u0309a Đa\u0309ng ủy ƣ")  # decomposed marks and the ƣ glyph mix-up
    text = read_docx(save(d)).blocks[0].text
    assert text == "Đề cương của Đảng ủy ư"


def test_deepcopy_of_blocks_is_plain_data():
    d = docx.Document()
    d.add_paragraph("x y")
    block = read_docx(save(d)).blocks[0]
    assert copy.deepcopy(block) == block


# ---- styles.xml read lazily ---------------------------------------------------------------------
def _styles_xml() -> bytes:
    return zipfile.ZipFile(io.BytesIO(save(docx.Document()))).read("word/styles.xml")


def test_each_style_parsed_alone_is_the_style_of_the_whole_part():
    data = _styles_xml()
    part, whole = StylesPart(data), etree.fromstring(data)
    placeholders = list(part.root.iterchildren(qn("w:style")))
    originals = list(whole.iterchildren(qn("w:style")))
    assert len(placeholders) == len(originals) > 100
    assert not any(len(el) for el in placeholders)  # python-docx's template takes the lazy path
    for placeholder, original in zip(placeholders, originals, strict=True):
        assert placeholder.attrib == original.attrib
        assert etree.tostring(part.style(placeholder)) == etree.tostring(original)


@pytest.mark.parametrize("change", [
    lambda x: x.replace(b"<w:docDefaults>", b"<!-- a comment --><w:docDefaults>", 1),  # parsed whole
    lambda x: x.replace(b"<w:latentStyles", b'<w:x><w:style w:styleId="x"/></w:x><w:latentStyles', 1),  # whole
    lambda x: x.replace(b"w:", b"s:").replace(b"xmlns:w=", b"xmlns:s="),  # another prefix for the namespace
])
def test_unusual_styles_parts_read_as_when_parsed_whole(change):
    d = docx.Document()
    styles = d.styles
    heading = styles.add_style("Tieu de rieng", WD_STYLE_TYPE.PARAGRAPH)
    heading.base_style = styles["Heading 2"]
    heading.font.bold = True
    d.add_paragraph("Tiêu đề theo kiểu", style="Tieu de rieng")
    d.add_paragraph("Đoạn thường")
    data = save(d)
    expected = read_docx(data)
    assert by_text(expected, "Tiêu đề theo kiểu").outline_level == 1
    changed = read_docx(_rewrite_part(data, "word/styles.xml", change))
    assert changed.blocks == expected.blocks
