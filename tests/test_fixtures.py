"""The fixture builders themselves: deterministic, readable by the libraries intake uses, and saying
what they claim (so tests built on them fail for intake's reasons, not the fixtures')."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path

import docx
import pypdfium2
import pytest
import yaml

from tests.fixtures import documents as d
from tests.fixtures.mail import build_mail
from tests.fixtures.make_sample_inbox import EXPECTED, EXPECTED_MESSAGES, OUT_DIR, REPORTS, build_inbox

ROOT = Path(__file__).resolve().parents[1]

UNIT = dict(issuer="ĐẢNG ỦY SỞ NỘI VỤ", number="60-BC/ĐU", date=(2022, 6, 10), signer="Nguyễn Thị Mai")


def _report(**kw) -> d.Report:
    return d.report_truth("Đảng ủy Sở Nội vụ", **{**UNIT, **kw})


def _docx_paragraphs(blob: bytes) -> list[str]:
    """Body paragraphs (tables excluded), in order."""
    return [p.text for p in docx.Document(io.BytesIO(blob)).paragraphs]


def _docx_all_text(blob: bytes) -> str:
    doc = docx.Document(io.BytesIO(blob))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def _pdf_text(blob: bytes) -> tuple[int, str]:
    pdf = pypdfium2.PdfDocument(blob)
    try:
        pages = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()
    return len(pages), unicodedata.normalize("NFC", "\n".join(pages))


def _squash(text: str) -> str:
    """Without page-number lines and whitespace: neither PDF line wrapping nor a paragraph running onto
    the next page must matter when looking for a paragraph."""
    lines = [line for line in text.splitlines() if not line.strip().isdigit()]
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", "".join(lines)))


def test_outline_mirrors_campaign_rules():
    rules = yaml.safe_load((ROOT / "rules" / "nq03-2022.yml").read_text(encoding="utf-8"))
    flat = []
    for node in rules["outline"]:
        flat.append((node["key"], 0, node["title"]))
        flat += [(child["key"], 1, child["title"]) for child in node.get("children", [])]
    # If this fails on "Hạn chế" vs "Hạn chế, bất cập": an unquoted comma in a YAML flow mapping
    # ({key: II.2, title: Hạn chế, bất cập}) ends the title; the campaign file must quote it.
    assert flat == d.OUTLINE


DOCX_BUILDERS = {
    **{f"report-{s}": (lambda s=s: _report(style=s).docx()) for s in d.STYLES},
    "quy_che": lambda: d.quy_che_docx("Đảng bộ Sở Nội vụ"),
    "qd_ban_hanh_quy_che": lambda: d.quyet_dinh_ban_hanh_quy_che_docx("Sở Tài chính"),
    "qd_bcd": lambda: d.quyet_dinh_bcd_docx("Sở Nội vụ"),
    "monthly": lambda: d.monthly_report_docx("Chi bộ Sở Công Thương", issuer="CHI BỘ SỞ CÔNG THƯƠNG",
                                             number="55-BC/CB", date=(2022, 6, 2), signer="Trần Văn Long"),
}


@pytest.mark.parametrize("name", sorted(DOCX_BUILDERS))
def test_docx_builders_are_deterministic_and_open(name):
    first, second = DOCX_BUILDERS[name](), DOCX_BUILDERS[name]()
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    document = docx.Document(io.BytesIO(first))
    assert document.core_properties.created.year in (2021, 2022)
    assert document.tables and document.paragraphs  # at least the letterhead table and a body


@pytest.mark.parametrize("style", ["plain", "inline", "reworded"])
def test_typed_headings_and_text_in_docx(style):
    report = _report(style=style)
    paragraphs = _docx_paragraphs(report.docx())
    joined = "\n".join(paragraphs)
    for part in report.parts():
        # inline headings are followed by ": " and the section's first paragraph
        assert any(p == part.heading or p.startswith(part.heading + ": ") for p in paragraphs), part.heading
        for text in part.paragraphs:
            assert text in joined
    assert paragraphs[0] == "BÁO CÁO"


def test_numbered_style_uses_word_numbering():
    blob = _report(style="numbered").docx()
    document = docx.Document(io.BytesIO(blob))
    headings = [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings[0] == ("Heading 1", "TÌNH HÌNH VÀ KẾT QUẢ TRIỂN KHAI THỰC HIỆN")
    assert ("Heading 2", "Đặc điểm tình hình") in headings
    assert not any(re.match(r"^[IVX0-9]+\.", text) for _, text in headings)
    numbering = zipfile.ZipFile(io.BytesIO(blob)).read("word/numbering.xml").decode("utf-8")
    assert 'w:numFmt w:val="upperRoman"' in numbering and 'w:lvlText w:val="%2."' in numbering
    assert document.element.body.xml.count("<w:numPr>") == len(headings) == 9


def test_expected_sections_and_metadata():
    report = _report(style="inline", omit={"II"}, steering_committee=False,
                     extra_sections=[("IV. PHƯƠNG HƯỚNG, NHIỆM VỤ", ["Tiếp tục thực hiện."])])
    sections = report.expected_sections()
    assert list(sections) == ["I", "I.1", "I.2", "I.3", "III", "+1"]
    assert sections["I"] == ""
    assert sections["+1"] == "Tiếp tục thực hiện."
    assert report.expected_extra_sections() == [("III. PHƯƠNG HƯỚNG, NHIỆM VỤ", "Tiếp tục thực hiện.")]
    assert report.expected_missing_sections() == ["II", "II.1", "II.2", "II.3"]
    # numbers stay consecutive: III becomes "II.", the extra part "III."
    assert report.expected_headings()["III"] == "II. ĐỀ XUẤT, KIẾN NGHỊ"
    assert report.expected_headings()["+1"] == "III. PHƯƠNG HƯỚNG, NHIỆM VỤ"
    assert report.expected_metadata() == {
        "issuer": "ĐẢNG ỦY SỞ NỘI VỤ", "number": "60-BC/ĐU", "date": "2022-06-10", "signer": "Nguyễn Thị Mai",
        "place": "Thanh Hóa", "doc_type": "BÁO CÁO",
        "summary": "Sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK, ngày 17/6/2021 của Đảng ủy Khối các cơ quan tỉnh"}
    first_line = sections["I.1"].split("\n")[0]
    assert f"1. Đặc điểm tình hình: {first_line}" in _docx_paragraphs(report.docx())


def test_sections_override_and_validation():
    report = _report(sections={"III": ["Không có kiến nghị."]})
    assert report.expected_sections()["III"] == "Không có kiến nghị."
    with pytest.raises(ValueError):
        _report(omit={"IV"})
    with pytest.raises(ValueError):
        _report(style="fancy")


@pytest.mark.parametrize("steering, present, absent", [
    (True, "ban hành quyết định thành lập Ban Chỉ đạo", "không thành lập"),
    (False, "không thành lập Ban Chỉ đạo", "ban hành quyết định thành lập"),
    (None, "do cấp ủy trực tiếp lãnh đạo", "Ban Chỉ đạo"),
])
def test_steering_committee_sentence(steering, present, absent):
    report = _report(steering_committee=steering)
    text = report.expected_sections()["I.2"]
    assert present in text and absent not in text
    if steering is None:  # nothing anywhere in the report may mention a steering committee
        assert "Ban Chỉ đạo" not in _docx_all_text(report.docx())


def test_report_pdf_is_deterministic_text_pdf():
    report = _report(style="inline", steering_committee=False)
    blob = report.pdf()
    assert blob.startswith(b"%PDF") and blob == report.pdf()
    pages, text = _pdf_text(blob)
    assert pages >= 2
    squashed = _squash(text)
    for needle in ["ĐẢNG ỦY SỞ NỘI VỤ", "Số 60-BC/ĐU", "Thanh Hóa, ngày 10 tháng 6 năm 2022", "BÁO CÁO",
                   "T/M ĐẢNG ỦY", "Nguyễn Thị Mai", *report.expected_headings().values(),
                   *[p for part in report.parts() for p in part.paragraphs]]:
        assert _squash(needle) in squashed, needle
    assert re.search(r"^\s*2\s*$", text, re.M)  # page number in the footer of page 2


def test_quote_pdf():
    blob = d.quote_pdf()
    assert blob.startswith(b"%PDF") and blob == d.quote_pdf()
    assert "BẢNG BÁO GIÁ VĂN PHÒNG PHẨM" in _pdf_text(blob)[1]


def test_admin_documents_say_what_they_are():
    quy_che = _docx_paragraphs(d.quy_che_docx("Đảng bộ Sở Nội vụ"))
    assert "Thực hiện dân chủ trong hoạt động của cơ quan Sở Nội vụ" in quy_che and "Chương II" in quy_che
    qd = _docx_paragraphs(d.quyet_dinh_ban_hanh_quy_che_docx("Sở Tài chính"))
    assert qd[0] == "QUYẾT ĐỊNH" and qd[1].startswith("Về việc ban hành Quy chế thực hiện dân chủ")
    assert "QUY CHẾ" in qd  # carries the regulation itself after the decision
    assert "QUY CHẾ" not in _docx_paragraphs(d.quyet_dinh_ban_hanh_quy_che_docx("Sở Tài chính", with_regulation=False))
    bcd = _docx_paragraphs(d.quyet_dinh_bcd_docx("Sở Nội vụ"))
    assert bcd[1] == "Về việc thành lập Ban Chỉ đạo thực hiện Quy chế dân chủ ở cơ sở"
    # the report cites the decision that issued the regulation; both builders agree on its number
    number = re.search(r"Quyết định số (\S+)", _report().expected_sections()["I.2"]).group(1)
    assert any(number in p for p in _docx_paragraphs(d.quy_che_docx("Sở Nội vụ")))


@pytest.mark.parametrize("style", ["rfc2231", "rfc2047", "raw-utf8"])
def test_build_mail_filenames_and_forward(style):
    long_name = "Báo cáo sơ kết 01 năm thực hiện Nghị quyết số 03-NQ của Đảng ủy Sở Nội vụ.docx"
    inner = build_mail(sender="chibo@hnd.example.vn", sender_name="Chi bộ Hội Nông dân tỉnh", subject="Báo cáo NQ03",
                       received=datetime(2022, 6, 13, 15, 30), attachments=[("Quy chế.docx", b"PK\x03\x04")])
    kw = dict(sender="dangbo@snv.example.vn", sender_name="Đảng bộ Sở Nội vụ", subject="Báo cáo sơ kết NQ03",
              received=datetime(2022, 6, 10, 9, 15), filename_style=style, forward_of=inner,
              attachments=[(long_name, b"PK\x03\x04x"), ("a.pdf", b"%PDF-1.4")])
    raw = build_mail(**kw)
    assert raw == build_mail(**kw)
    assert raw.startswith(b"Received: from relay.example.vn") and b"\r\n\r\n" in raw
    msg = message_from_bytes(raw, policy=policy.default)
    assert str(msg["Subject"]) == "Báo cáo sơ kết NQ03"
    assert msg["Date"].datetime == datetime.fromisoformat("2022-06-10T09:13:00+07:00")
    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names == [long_name, "a.pdf", "Báo cáo NQ03.eml"]
    forwarded = list(msg.iter_attachments())[-1]
    assert forwarded.get_content_type() == "message/rfc822"
    original = forwarded.get_payload()[0]
    assert original["From"].addresses[0].addr_spec == "chibo@hnd.example.vn"
    assert [p.get_filename() for p in original.iter_attachments()] == ["Quy chế.docx"]


# ---- the sample inbox


def test_sample_inbox_is_up_to_date():
    built = build_inbox()
    on_disk = {p.name: p.read_bytes() for p in OUT_DIR.glob("*.eml")}
    assert sorted(on_disk) == sorted(built) == sorted(EXPECTED_MESSAGES)
    stale = [name for name in built if built[name] != on_disk[name]]
    assert not stale, "run: .venv/bin/python -m tests.fixtures.make_sample_inbox"


def test_expected_covers_campaign_units():
    rules = yaml.safe_load((ROOT / "rules" / "nq03-2022.yml").read_text(encoding="utf-8"))
    assert sorted(EXPECTED) == sorted(u["id"] for u in rules["units"])
    readme = (OUT_DIR / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in EXPECTED_MESSAGES)


def _documents(msg) -> list[tuple[str, bytes]]:
    """Leaf documents of a mail: attachments, zip members, and those of forwarded mails."""
    found = []
    for part in msg.iter_attachments():
        if part.get_content_type() == "message/rfc822":
            found += _documents(part.get_payload()[0])
        elif part.get_filename().lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(part.get_payload(decode=True))) as z:
                found += [(n, z.read(n)) for n in z.namelist()]
        else:
            found.append((part.get_filename(), part.get_payload(decode=True)))
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED_MESSAGES))
def test_sample_mail_parses_with_expected_attachments(name):
    want = EXPECTED_MESSAGES[name]
    msg = message_from_bytes((OUT_DIR / name).read_bytes(), policy=policy.default)
    assert "by mx.dangbokhoi.example.vn" in msg.get_all("Received")[0]
    assert [p.get_filename() for p in msg.iter_attachments()] == want["attachments"]
    docs = _documents(msg)
    assert [n for n, _ in docs] == [n for n, _ in want["documents"]]
    for doc_name, blob in docs:
        if doc_name.endswith(".docx"):
            docx.Document(io.BytesIO(blob))
        else:
            assert blob.startswith(b"%PDF")
    assert (msg["Auto-Submitted"] == "auto-replied") == ("auto_reply" in want["traits"])


def test_sample_special_cases():
    read = {name: message_from_bytes((OUT_DIR / name).read_bytes(), policy=policy.default)
            for name in EXPECTED_MESSAGES}
    first, dup = read["01-so-noi-vu-dung-han.eml"], read["10-so-noi-vu-trung-lap.eml"]
    assert first["Message-ID"] == dup["Message-ID"] and first["Received"] != dup["Received"]
    raw_first = (OUT_DIR / "01-so-noi-vu-dung-han.eml").read_bytes()
    raw_dup = (OUT_DIR / "10-so-noi-vu-trung-lap.eml").read_bytes()
    assert raw_first.split(b"Message-ID:", 1)[1] == raw_dup.split(b"Message-ID:", 1)[1]
    # so-giao-duc is recognisable by its report's letterhead only
    gd = read["06-so-giao-duc-gmail-zip.eml"]
    assert "sgddt" not in str(gd["From"]) and "Giáo dục" not in str(gd["Subject"])
    report = dict(_documents(gd))["Bao cao so ket NQ03.docx"]
    assert "ĐẢNG ỦY SỞ GIÁO DỤC VÀ ĐÀO TẠO" in _docx_all_text(report)
    # late mail: received after the deadline although written before it
    late = read["03-so-cong-thuong-tre-han.eml"]
    assert "16 Jun 2022" in late.get_all("Received")[0]
    # the PDF report is a text PDF with the unit's sections
    pdf = dict(_documents(read["02-so-tai-chinh-pdf-thieu-qd-bcd.eml"]))["BC so ket NQ03 - DU So Tai chinh.pdf"]
    assert _squash(REPORTS["so-tai-chinh"].expected_sections()["II.1"]) in _squash(_pdf_text(pdf)[1])
