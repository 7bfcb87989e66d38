"""TCVN3 (.VnTime) and VNI (VNI-Times) text becomes Unicode: tables, detection, .docx runs, PDF text."""

from __future__ import annotations

import io
import unicodedata

import docx
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from extractors.legacy_fonts import (
    convert_runs,
    decode_tcvn3,
    decode_vni,
    detect,
    encode_tcvn3,
    encode_vni,
    font_encoding,
)
from extractors.pdf_reader import read_pdf
from extractors.readers import read_document
from tests.fixtures import _pdf_util

_VOWELS = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0309", "\u0303", "\u0301", "\u0323")
LOWER = sorted({unicodedata.normalize("NFC", v + t) for v in _VOWELS for t in _TONES} | {"đ"})
LETTERS = [ch for ch in LOWER if not ch.isascii()]  # the 67 letters ASCII lacks
SAMPLE = ("Đảng ủy Sở Nội vụ báo cáo sơ kết một năm thực hiện Nghị quyết số 03-NQ/TU của Ban Thường vụ "
          "Tỉnh ủy về tiếp tục đẩy mạnh công tác dân vận; những hạn chế, khuyết điểm và nguyên nhân; "
          "phương hướng, nhiệm vụ trọng tâm thời gian tới.")


def test_all_134_letters_round_trip():
    assert len(LETTERS) * 2 == 134
    lower = "".join(LETTERS)
    upper = lower.upper()
    assert decode_tcvn3(encode_tcvn3(lower)) == lower
    assert decode_tcvn3(encode_tcvn3(upper), upper=True) == upper  # .VnTimeH draws the lower codes as capitals
    assert decode_vni(encode_vni(lower)) == lower
    assert decode_vni(encode_vni(upper)) == upper
    for text in (SAMPLE, SAMPLE.upper()):
        assert decode_vni(encode_vni(text)) == text
    assert decode_tcvn3(encode_tcvn3(SAMPLE)) == SAMPLE
    assert decode_tcvn3(encode_tcvn3(SAMPLE.upper()), upper=True) == SAMPLE.upper()


def test_known_spellings():
    assert decode_tcvn3("§¶ng ñy Së Néi vô, b¸o c¸o kÕt qu¶ ®¹t ®­îc") == "Đảng ủy Sở Nội vụ, báo cáo kết quả đạt được"
    assert decode_tcvn3("b¸o c¸o", upper=True) == "BÁO CÁO"
    assert decode_vni("Xin chaøo caùc baïn, Vieät Nam, Haø Noäi, ñöôïc, tröôøng") == \
        "Xin chào các bạn, Việt Nam, Hà Nội, được, trường"
    assert decode_vni("ÑAÛNG UÛY") == "ĐẢNG ỦY"
    assert decode_tcvn3("\uf0a7\uf0b6ng") == "Đảng"  # symbol-charset runs keep the byte in U+F0xx


def test_font_names():
    assert font_encoding(".VnTime") == "tcvn3" and font_encoding(".VnTimeH") == "tcvn3-upper"
    assert font_encoding(".VnArial Narrow") == "tcvn3" and font_encoding("VnTimeH-Bold") == "tcvn3-upper"
    assert font_encoding("ABCDEF+VnTime") == "tcvn3"
    assert font_encoding("VNI-Times") == "vni" and font_encoding("VNI-Helve-Condense") == "vni"
    for normal in ("Times New Roman", "Arial", "DejaVuSerif", None, ""):
        assert font_encoding(normal) is None


def test_detection_by_statistics():
    assert detect(encode_tcvn3(SAMPLE)) == "tcvn3"
    assert detect(encode_vni(SAMPLE)) == "vni"
    assert detect(SAMPLE) is None and detect(SAMPLE.upper()) is None
    assert detect("Hoà Bình, quân đội") is None
    assert detect("Điều 3 § 2 © 2022 «trích»") is None  # a stray symbol in Unicode text is not TCVN3
    assert detect("Café, naïve, déjà vu") is None
    assert detect("Die Größe der Mädchen ist schön, Übung macht den Meister") is None
    texts, enc = convert_runs([(encode_tcvn3("Nghị quyết "), "Times New Roman"),
                               (encode_tcvn3("số 03 của Đảng ủy"), "Arial")])
    assert "".join(texts) == "Nghị quyết số 03 của Đảng ủy" and enc == "tcvn3"


def _docx(paragraphs: list[list[tuple[str, str | None]]]) -> bytes:
    doc = docx.Document()
    for runs in paragraphs:
        p = doc.add_paragraph()
        for text, font in runs:
            run = p.add_run(text)
            if font:
                run.font.name = font
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def test_docx_runs_are_converted_by_font():
    data = _docx([
        [(encode_tcvn3("báo cáo"), ".VnTimeH")],
        [(encode_tcvn3("Sơ kết một năm thực hiện Nghị quyết"), ".VnTime")],
        [(encode_vni("Đảng ủy Sở Nội vụ"), "VNI-Times")],
        # one paragraph mixing all three, and a Unicode run
        [("Kính gửi: ", "Times New Roman"), (encode_tcvn3("Ban Thường vụ "), ".VnTime"),
         (encode_tcvn3("tỉnh ủy "), ".VnTimeH"), (encode_vni("về việc dân vận"), "VNI-Times")],
        [("Văn bản Unicode có «ngoặc» và § 3", "Times New Roman")],
    ])
    doc = read_document(data, "bao-cao.docx")
    assert [b.text for b in doc.blocks] == [
        "BÁO CÁO", "Sơ kết một năm thực hiện Nghị quyết", "Đảng ủy Sở Nội vụ",
        "Kính gửi: Ban Thường vụ TỈNH ỦY về việc dân vận", "Văn bản Unicode có «ngoặc» và § 3"]
    assert all(b.text == unicodedata.normalize("NFC", b.text) for b in doc.blocks)
    assert {f.kind for f in doc.flags} == {"legacy_encoding"}


def test_docx_without_legacy_font_name_is_converted_by_statistics():
    data = _docx([[(encode_tcvn3(SAMPLE), "Times New Roman")], [(encode_vni(SAMPLE), None)], [(SAMPLE, None)]])
    assert [b.text for b in read_document(data, "x.docx").blocks] == [SAMPLE] * 3


def test_pdf_with_tcvn3_text_in_a_normal_font():
    _pdf_util.styles()  # registers the DejaVu fonts with reportlab
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setFont("DejaVuSerif", 12)
    lines = ["BÁO CÁO", "Sơ kết một năm thực hiện Nghị quyết số 03-NQ/TU", "Đảng ủy Sở Nội vụ đã tổ chức quán triệt"]
    for i, line in enumerate(lines):
        c.drawString(72, 760 - 20 * i, line if i == 0 else encode_tcvn3(line))
    c.setFont("DejaVuSerif-Bold", 12)
    c.drawString(72, 600, "Nơi nhận: Văn phòng Tỉnh ủy")  # a Unicode font on the same page stays as it is
    c.save()
    doc = read_pdf(buffer.getvalue())
    # the layout may join the body lines into one paragraph; the words are what matters here
    assert " ".join(b.text for b in doc.blocks) == " ".join(lines + ["Nơi nhận: Văn phòng Tỉnh ủy"])
    assert [f.kind for f in doc.flags] == ["legacy_encoding"]
