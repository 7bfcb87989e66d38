"""Outlook .msg: saved with "Save as" or attached with "Forward as attachment", a .msg is a mail like
an .eml. Read from its MAPI properties (transport headers first), it must give the same ParsedMail,
the same attribution and the same receipt rules; its raw bytes are stored as they came, and a
damaged one is a flag, never a traceback."""

from __future__ import annotations

import io
import json
import sqlite3
import struct
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import compressed_rtf
import olefile
import pytest

from pipeline.mime import html_to_text, parse_mail
from pipeline.msg import is_outlook_message
from pipeline.rtf_body import rtf_to_text
from pipeline.sources import RawMail, SourceError, iter_mail
from tests.conftest import shared_path
from tests.fixtures.cfb import build_cfb
from tests.fixtures.documents import quy_che_docx, quyet_dinh_bcd_docx
from tests.fixtures.mail import OFFICE, VN, build_mail
from tests.fixtures.make_sample_inbox import NOW, REPORTS, SUBJECT
from tests.fixtures.outlook import File, Item, build_msg

UNIT = ("Đảng bộ Sở Tài chính", "dangbo@stc.example.vn")
REPORT_NAME = "Báo cáo sơ kết 01 năm thực hiện Nghị quyết số 03-NQ của Đảng ủy Sở Tài chính.docx"
SENT = datetime(2022, 6, 13, 16, 40, tzinfo=VN)
DELIVERED = datetime(2022, 6, 13, 16, 42, tzinfo=VN)
DEADLINE = datetime(2022, 6, 15, tzinfo=VN)


def kinds(flags) -> list[str]:
    return [f.kind for f in flags]


def documents() -> list[File]:
    return [File(REPORT_NAME, REPORTS["so-tai-chinh"].docx()),
            File("Quy chế dân chủ trong hoạt động của cơ quan Sở Tài chính.docx", quy_che_docx("Sở Tài chính")),
            File("Quyết định thành lập Ban Chỉ đạo.docx", quyet_dinh_bcd_docx("Sở Tài chính"))]


def report_item(**kw) -> Item:
    values = dict(subject=f"V/v {SUBJECT}", sender=UNIT, to=[("Văn phòng Đảng ủy Khối", OFFICE)],
                  body="Kính gửi Văn phòng Đảng ủy Khối,\r\nĐảng bộ Sở Tài chính gửi báo cáo sơ kết.",
                  submitted=SENT, delivered=DELIVERED, message_id="<bc-nq03-stc@stc.example.vn>",
                  attachments=documents())
    return Item(**{**values, **kw})


def transport_headers(item: Item, received: datetime) -> str:
    """PR_TRANSPORT_MESSAGE_HEADERS as Exchange keeps them: the headers the mail arrived with."""
    return (f"Received: from mx.stc.example.vn (203.0.113.9) by mx.dangbokhoi.example.vn;\r\n"
            f" {format_datetime(received)}\r\nFrom: =?utf-8?b?xJDhuqNuZyBi4buZIFPhu58gVMOgaSBjaMOtbmg=?= "
            f"<{item.sender[1]}>\r\nTo: {OFFICE}\r\nSubject: {item.subject}\r\n"
            f"Date: {format_datetime(item.submitted)}\r\nMessage-ID: {item.message_id}\r\n"
            f"Content-Type: multipart/mixed; boundary=\"b1\"\r\nMIME-Version: 1.0\r\n\r\n")


# ---- the fixture writers, checked by olefile ---------------------------------------------------------
def test_cfb_writer_output_is_what_olefile_reads():
    big = bytes(range(256)) * 40  # past the 4096-byte cutoff: sectors of its own, not the mini stream
    raw = build_cfb({"small": b"hello", "big": big, "empty": b"", "Storage": {"inner": b"x" * 70, "S": {"deep": b"d"}}})
    ole = olefile.OleFileIO(io.BytesIO(raw), raise_defects=olefile.DEFECT_INCORRECT)
    assert sorted("/".join(p) for p in ole.listdir(storages=True)) == [
        "Storage", "Storage/S", "Storage/S/deep", "Storage/inner", "big", "empty", "small"]
    assert [ole.openstream(p).read() for p in ("small", "big", "empty", "Storage/inner", "Storage/S/deep")] == [
        b"hello", big, b"", b"x" * 70, b"d"]
    assert ole.parsing_issues == []


def test_msg_writer_follows_ms_oxmsg():
    ole = olefile.OleFileIO(io.BytesIO(build_msg(report_item(attachments=[File("a.txt", b"a"), Item(subject="x")]))))
    names = {"/".join(p) for p in ole.listdir(storages=True)}
    assert {"__properties_version1.0", "__substg1.0_001A001F", "__substg1.0_0037001F", "__nameid_version1.0",
            "__recip_version1.0_#00000000/__substg1.0_39FE001F", "__attach_version1.0_#00000000/__substg1.0_37010102",
            "__attach_version1.0_#00000001/__substg1.0_3701000D/__substg1.0_0037001F"} <= names
    table = ole.openstream("__properties_version1.0").read()
    assert len(table) % 16 == 0 and struct.unpack_from("<IIII", table, 8) == (1, 2, 1, 2)  # 32-byte header
    assert ole.openstream("__substg1.0_0037001F").read().decode("utf-16-le") == f"V/v {SUBJECT}"


# ---- the shared corpus: real .msg files, read by hand with olefile first ------------------------------
def corpus(name: str) -> bytes:
    return shared_path("corpus", "eml", name).read_bytes()


def test_corpus_msg_with_a_pdf_and_an_attached_item():
    mail = parse_mail(corpus("poi_hsmf_attachment_msg_pdf.msg"))
    assert (mail.subject, mail.from_name, mail.from_addr, mail.to) == (
        "test email", "Nick Booth", "nick.booth@pof.com.au", ["nick.booth@pof.com.au"])
    assert mail.message_id == "3975CB0784A2C249A2EDDD4D43C53D08045B971A87@Stitch.pof.com.au"
    assert mail.body_text == "Test email with 1 msg attachment, 1 pdf" and mail.flags == []
    # PR_MESSAGE_DELIVERY_TIME (23:54:25.909 UTC), not the sender's Date: 09:54:19 +1000.
    assert mail.received_at == datetime(2010, 6, 17, 23, 54, 25, tzinfo=timezone.utc)
    assert [(a.filename, a.content_type, a.part, a.origin) for a in mail.attachments] == [
        ("smbprn.00009008.KdcPjl.pdf", "application/pdf", "3", "mime")]
    assert mail.attachments[0].data.startswith(b"%PDF-1.4") and len(mail.attachments[0].data) == 13539
    [item] = mail.forwarded  # attachment 0: an Outlook item (ATTACH_EMBEDDED_MSG)
    assert (item.subject, item.from_addr, item.body_text) == ("Test Attachment", "nick.booth@pof.com.au",
                                                              "Blah blah blah")
    assert item.received_at == datetime(2010, 6, 17, 23, 52, 26, tzinfo=timezone.utc)


def test_corpus_msg_in_the_cyrillic_code_page():
    # Every string is PT_STRING8 in PR_MESSAGE_CODEPAGE 1251; the transport headers say "koi8-r" for the body.
    mail = parse_mail(corpus("poi_hsmf_cyrillic_message.msg"))
    assert mail.subject == 'Автоматический ответ подсистемы обмена данными ФГУП "Почта России".'
    assert (mail.from_addr, mail.to) == ("no-reply@niips.ru", ["sviridov@niips.ru"])
    assert mail.body_text.startswith('Ваше сообщение с темой "FW: RTM" было успешно получено брокером')
    assert mail.auto_reply and mail.attachments == [] and mail.flags == []


def test_corpus_fuzzed_msg_reads_what_it_holds():
    # POI's fuzzer crashed on it; no transport headers and an Exchange-only sender (no SMTP address).
    mail = parse_mail(corpus("poi_hsmf_clusterfuzz_4848576776503296.msg"))
    assert (mail.subject, mail.from_addr, mail.body_text) == ("QuickBrownFox", None,
                                                              "Is going to jump over the lazy brown dog!!!")
    assert mail.date == mail.received_at == datetime(2017, 2, 28, 18, 47, 11, tzinfo=timezone.utc)


def test_corpus_msg_newsletter_with_images():
    mail = parse_mail(corpus("spamscope_mail_outlook_1.msg"))
    assert mail.subject == "Newsletter Prüfung Personalwesen / Prüfung Eröffnungsbilanz"
    # the transport headers
    assert mail.from_addr == "nueblingv@w-vwa.de" and mail.to == ["gaiser-schoenenborn@kreis-tuebingen.de"]
    assert [a.filename for a in mail.attachments] == [
        "newsletter.png", "spacer.gif", "image004.jpg", "image006.jpg", "image008.jpg"]
    assert mail.body_text.startswith("Wenn Sie diesen Newsletter nicht lesen können")


@pytest.mark.parametrize("name, html", [("poi_hsmf_attachment_msg_pdf.msg", True),
                                        ("poi_hsmf_cyrillic_message.msg", False),
                                        ("poi_hsmf_clusterfuzz_4848576776503296.msg", True),
                                        ("spamscope_mail_outlook_1.msg", True)])
def test_corpus_rtf_bodies_say_what_the_plain_bodies_say(name, html):
    ole = olefile.OleFileIO(io.BytesIO(corpus(name)))
    text, is_html = rtf_to_text(compressed_rtf.decompress(ole.openstream("__substg1.0_10090102").read()))
    plain = parse_mail(corpus(name)).body_text
    assert is_html == html
    words = (html_to_text(text) if is_html else text).split()
    assert words[:12] == plain.split()[:12]


def test_ingest_stores_every_corpus_msg_as_it_came(run_cli, tmp_path):
    # The whole folder goes through `intake ingest` in tests/test_hostile_corpus.py (no traceback).
    files = sorted(shared_path("corpus", "eml").glob("*.msg"))
    result = run_cli("ingest", "--json", *map(str, files))
    assert "Traceback" not in result.output
    report = json.loads(result.output)
    assert (report["new"], report["errors"], report["processing_errors"]) == (4, [], 0)
    db = sqlite3.connect(tmp_path / "intake.db")
    stored = db.execute("select r.raw from message_sources s join raw_messages r using (sha256) order by s.source")
    assert [raw for (raw,) in stored] == [f.read_bytes() for f in files]


# ---- .msg files built by the tests ------------------------------------------------------------------
def ingest(run_cli, tmp_path, files: dict[str, bytes]) -> tuple[dict, sqlite3.Connection]:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name, raw in files.items():
        (folder / name).write_bytes(raw)
    result = run_cli("ingest", "--json", str(folder))
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 0 and json.loads(result.output)["errors"] == [], result.output
    rows = json.loads(run_cli("status", "--json", "--now", NOW).output)
    return next(r for r in rows if r["unit"] == "so-tai-chinh"), sqlite3.connect(tmp_path / "intake.db")


def test_a_unit_report_saved_as_msg_counts_and_is_stored_as_it_came(run_cli, tmp_path):
    raw = build_msg(report_item())
    row, db = ingest(run_cli, tmp_path, {"Báo cáo NQ03.msg": raw})
    assert row["status"] == "on_time" and row["missing_attachments"] == [] and row["missing_sections"] == []
    assert datetime.fromisoformat(row["received_at"]) == DELIVERED  # PR_MESSAGE_DELIVERY_TIME, not the sent time
    assert db.execute("select raw from raw_messages").fetchall() == [(raw,)]
    assert db.execute("select from_addr, unit_id, unit_basis, received_basis from messages").fetchall() == [
        ("dangbo@stc.example.vn", "so-tai-chinh", "sender", "received")]
    assert db.execute("select filename, kind from documents order by filename").fetchall() == [
        (REPORT_NAME, "report"), ("Quy chế dân chủ trong hoạt động của cơ quan Sở Tài chính.docx", "quy_che_dan_chu"),
        ("Quyết định thành lập Ban Chỉ đạo.docx", "quyet_dinh_bcd")]
    assert db.execute("select kind from flags").fetchall() == []
    assert run_cli("ingest", str(tmp_path / "inbox")).output.startswith("1 mails seen: 0 new")


def test_the_delivery_time_decides_lateness_not_the_time_it_was_sent(run_cli, tmp_path):
    late = report_item(submitted=DEADLINE - timedelta(minutes=5), delivered=DEADLINE + timedelta(minutes=20))
    row, _ = ingest(run_cli, tmp_path, {"tre.msg": build_msg(late)})
    assert row["status"] == "late" and datetime.fromisoformat(row["received_at"]) == DEADLINE + timedelta(minutes=20)


def test_without_a_delivery_time_the_sent_time_is_used_and_flagged(run_cli, tmp_path):
    row, db = ingest(run_cli, tmp_path, {"nhap.msg": build_msg(report_item(delivered=None))})
    assert row["status"] == "on_time" and datetime.fromisoformat(row["received_at"]) == SENT
    assert "receipt_time_from_date" in row["flags"]
    assert db.execute("select received_basis from messages").fetchall() == [("date",)]


def test_headers_from_the_properties_alone():
    item = report_item(cc=[("Ban Tổ chức, Văn phòng", "bantochuc@dangbokhoi.example.vn")],
                       in_reply_to="<cv-123@office>", attachments=[])
    mail = parse_mail(build_msg(item))
    assert (mail.subject, mail.from_name, mail.from_addr) == (f"V/v {SUBJECT}", *UNIT)
    assert (mail.to, mail.cc) == ([OFFICE], ["bantochuc@dangbokhoi.example.vn"])
    assert (mail.date, mail.received_at) == (SENT, DELIVERED)
    assert (mail.message_id, mail.in_reply_to) == ("bc-nq03-stc@stc.example.vn", "cv-123@office")
    assert mail.body_text == "Kính gửi Văn phòng Đảng ủy Khối,\nĐảng bộ Sở Tài chính gửi báo cáo sơ kết."
    assert mail.flags == []


def test_transport_headers_come_first_and_the_properties_fill_the_gaps():
    item = report_item(attachments=[], cc=[("Ban Tổ chức", "bantochuc@dangbokhoi.example.vn")])
    item.headers = transport_headers(item, DELIVERED - timedelta(seconds=30)).replace(f"To: {OFFICE}",
                                                                                      "To: nhom@dangbokhoi.example.vn")
    mail = parse_mail(build_msg(item))
    assert mail.to == ["nhom@dangbokhoi.example.vn"] and mail.cc == ["bantochuc@dangbokhoi.example.vn"]
    assert mail.from_name == "Đảng bộ Sở Tài chính" and mail.received_at == DELIVERED
    assert mail.body_text.startswith("Kính gửi") and mail.flags == []  # the sender's multipart is not rebuilt
    item.delivered = None  # then the topmost Received: of the transport headers
    assert parse_mail(build_msg(item)).received_at == DELIVERED - timedelta(seconds=30)


RTF_PLAIN = (rb"{\rtf1\ansi\ansicpg1258\deff0{\fonttbl{\f0\fswiss\fcharset163 Arial;}}{\colortbl;\red0\green0\blue0;}"
             rb"{\*\generator Riched20;}\pard\f0\fs24 K\'ednh g\'fd\'d2i V\u259?n pho\'ccng "
             rb"\u272?\u7843?ng \u7911?y\par "
             rb"{\b I. TI\'ccNH HI\'ccNH}\par Tr\u432?\u7899?c h\u7871?t\tab xong\par}")
RTF_HTML = (rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}"
            rb"{\*\htmltag19 <html>}{\*\htmltag34 <head>}{\*\htmltag41 <style>p {color: red}</style>}"
            rb"{\*\htmltag2 \par }{\*\htmltag50 <body>}\htmlrtf \viewkind4\uc1\pard\f0\fs20 \htmlrtf0 "
            rb"{\*\htmltag64 <p>}K\u237?nh g\u7917?i\htmlrtf\par\htmlrtf0{\*\htmltag72 </p>}"
            rb"{\*\htmltag64 <p>}B\u225?o c\u225?o &amp; ph\u7909? l\u7909?c{\*\htmltag72 </p>}"
            rb"\htmlrtf {\b RTF-only copy}\htmlrtf0{\*\htmltag58 </body></html>}}")


@pytest.mark.parametrize("rtf, body", [
    (RTF_PLAIN, "Kính gửi Văn phòng Đảng ủy\nI. TÌNH HÌNH\nTrước hết xong"),  # cp1258: tone marks combining
    (RTF_HTML, "Kính gửi\n\nBáo cáo & phụ lục"),  # as pipeline.mime reads the same HTML
], ids=["rich-text", "encapsulated-html"])
def test_an_rtf_only_body_is_read(rtf, body):
    mail = parse_mail(build_msg(report_item(body=None, rtf=rtf, attachments=[])))
    assert mail.body_text == body and mail.flags == []


def test_an_html_only_body_is_read_in_its_internet_code_page():
    html = "<html><body><p>Kính gửi Văn phòng</p><p>Đảng ủy Khối</p></body></html>".encode()
    mail = parse_mail(build_msg(report_item(body=None, html=html, attachments=[])))
    assert mail.body_text == "Kính gửi Văn phòng\n\nĐảng ủy Khối" and mail.flags == []


@pytest.mark.parametrize("code_page, subject, name", [
    (1251, "Автоматический ответ: отчёт получен", "Свиридов Дмитрий Владимирович"),
    (1258, f"V/v {SUBJECT}", "Đảng bộ Sở Tài chính"),
], ids=["cp1251", "cp1258"])
def test_8bit_strings_are_read_in_the_message_code_page(code_page, subject, name):
    item = Item(subject=subject, sender=(name, "vanthu@example.ru"), to=[(name, OFFICE)], body=f"{name}\r\n{subject}",
                attachments=[File(f"{name}.txt", b"x")], unicode=False, code_page=code_page)
    mail = parse_mail(build_msg(item))
    assert (mail.subject, mail.from_name, mail.body_text) == (subject, name, f"{name}\n{subject}")
    assert [a.filename for a in mail.attachments] == [f"{name}.txt"] and mail.flags == []


# ---- forwards: a .msg in a mail, an item in a .msg ----------------------------------------------------
def staff_forward(attachments: list[tuple[str, bytes]]) -> bytes:
    return build_mail(sender="vanthu@dangbokhoi.example.vn", sender_name="Văn thư", subject=f"Fw: {SUBJECT}",
                      received=datetime(2022, 6, 16, 8, 0, tzinfo=VN), attachments=attachments)


def test_a_msg_forwarded_inside_an_eml_is_attributed_to_its_sender(run_cli, tmp_path):
    inner = build_msg(report_item())
    row, db = ingest(run_cli, tmp_path, {"fw.eml": staff_forward([("Báo cáo Sở Tài chính.msg", inner)])})
    assert row["status"] == "on_time" and datetime.fromisoformat(row["received_at"]) == DELIVERED
    assert db.execute("select unit_id, unit_basis, received_basis from messages").fetchall() == [
        ("so-tai-chinh", "forwarded_sender", "forwarded_received")]
    assert db.execute("select part, origin from attachments order by part").fetchall() == [
        ("2.rfc822.2", "forwarded"), ("2.rfc822.3", "forwarded"), ("2.rfc822.4", "forwarded")]


def test_an_attached_item_inside_a_msg_is_a_forwarded_mail():
    outer = Item(subject="Fw: báo cáo", sender=("Văn thư", "vanthu@dangbokhoi.example.vn"), body="Chuyển tiếp",
                 delivered=DELIVERED, attachments=[File("Công văn.pdf", b"%PDF-1.4 cv"), report_item()])
    mail = parse_mail(build_msg(outer))
    assert [f.from_addr for f in mail.forwarded] == ["dangbo@stc.example.vn"]
    assert [(a.filename, a.part, a.origin) for a in mail.attachments] == [
        ("Công văn.pdf", "2", "mime"), (REPORT_NAME, "3.rfc822.2", "forwarded"),
        ("Quy chế dân chủ trong hoạt động của cơ quan Sở Tài chính.docx", "3.rfc822.3", "forwarded"),
        ("Quyết định thành lập Ban Chỉ đạo.docx", "3.rfc822.4", "forwarded")]
    assert mail.flags == []


def test_a_doc_attachment_stays_a_file():
    doc = build_cfb({"WordDocument": b"\x00" * 600, "1Table": b"\x00" * 100})
    assert not is_outlook_message(doc)
    mail = parse_mail(staff_forward([("Báo cáo.doc", doc)]))
    assert [(a.filename, a.origin) for a in mail.attachments] == [("Báo cáo.doc", "mime")] and mail.forwarded == []


def test_attached_items_nested_past_the_forward_limit_are_flagged():
    item = report_item(attachments=[File("innermost.txt", b"x")])
    for level in range(7):
        item = Item(subject=f"Fw {level}", sender=("Văn thư", "vanthu@dangbokhoi.example.vn"), attachments=[item])
    mail = parse_mail(build_msg(item))
    assert "depth_limit" in kinds(mail.flags) and "innermost.txt" not in [a.filename for a in mail.attachments]


def test_attachments_count_against_the_mime_part_limit(settings_env):
    settings_env(INTAKE_MAX_MIME_PARTS="5")
    mail = parse_mail(build_msg(report_item(attachments=[File(f"phu-luc-{i}.txt", b"x") for i in range(10)])))
    assert len(mail.attachments) < 5 and "mime_limit" in kinds(mail.flags)


# ---- damaged files: flagged, stored whole, no traceback ---------------------------------------------
def _oversized_stream() -> bytes:
    """A directory entry claiming a 2 GB body stream in a file of a few kilobytes."""
    raw = bytearray(build_msg(report_item(attachments=[], body="B" * 3000)))
    entry = raw.index("__substg1.0_1000001F".encode("utf-16-le"))
    struct.pack_into("<I", raw, entry + 120, 0x7FFFFFFF)
    return bytes(raw)


def _broken_fat() -> bytes:
    raw = bytearray(build_msg(report_item()))
    raw[512:1024] = b"\xff" * 512  # every FAT entry "free": no stream can be followed
    return bytes(raw)


@pytest.mark.parametrize("damage, detail", [
    (lambda raw: raw[: len(raw) // 2], "Outlook .msg: "),
    (lambda raw: raw[:600], "not a readable compound file"),
    (lambda raw: raw[:8], "not a readable compound file"),
    (lambda raw: _broken_fat(), "Outlook .msg: "),
    (lambda raw: _oversized_stream(), "more than the file holds"),
    (lambda raw: build_cfb({"WordDocument": b"\x00" * 600}), "without Outlook message properties"),
], ids=["truncated-half", "truncated-header", "signature-only", "broken-fat", "oversized-stream", "not-a-message"])
def test_a_damaged_msg_is_flagged_and_kept(run_cli, tmp_path, damage, detail):
    raw = damage(build_msg(report_item()))
    mail = parse_mail(raw)
    assert "unreadable" in kinds(mail.flags) and any(detail in f.detail for f in mail.flags), mail.flags
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "hong.msg").write_bytes(raw)
    result = run_cli("ingest", "--json", str(tmp_path / "inbox"))
    assert result.exit_code == 0 and "Traceback" not in result.output and json.loads(result.output)["new"] == 1
    db = sqlite3.connect(tmp_path / "intake.db")
    assert db.execute("select raw from raw_messages").fetchall() == [(raw,)]
    assert "unreadable" in {k for (k,) in db.execute("select kind from flags")}
    assert db.execute("select count(*) from flags where kind = 'processing_error'").fetchone() == (0,)


def test_a_damaged_msg_attached_to_a_mail_stays_a_flagged_file():
    broken = build_msg(report_item())[:3000]
    mail = parse_mail(staff_forward([("Báo cáo.msg", broken)]))
    assert [(a.filename, a.data) for a in mail.attachments] == [("Báo cáo.msg", broken)] and mail.forwarded == []
    assert kinds(mail.flags) == ["unreadable"] and mail.flags[0].detail.startswith("Báo cáo.msg: ")


def test_a_msg_above_the_mail_size_limit_is_read_for_its_headers_only(settings_env):
    raw = build_msg(report_item())
    settings_env(INTAKE_MAX_MAIL_MB=str(len(raw) / 2 / 1024 / 1024))
    mail = parse_mail(raw)
    assert (mail.from_addr, mail.subject, mail.received_at) == (UNIT[1], f"V/v {SUBJECT}", DELIVERED)
    assert mail.attachments == [] and mail.body_text == "" and kinds(mail.flags) == ["too_large"]


# ---- files on disk -------------------------------------------------------------------------------
def test_msg_files_are_mail_files_and_office_documents_are_not(tmp_path):
    msg = build_msg(report_item(attachments=[]))
    doc = build_cfb({"WordDocument": b"\x00" * 600})
    (tmp_path / "a.msg").write_bytes(msg)
    (tmp_path / "b.eml").write_bytes(msg)  # misnamed: the content decides
    (tmp_path / "c.doc").write_bytes(doc)  # beside the mails: skipped
    (tmp_path / "d.msg").write_bytes(doc)  # named .msg: kept, and the parser says what it is
    got = [(type(i).__name__, i.source.rsplit("/", 1)[1]) for i in iter_mail([str(tmp_path)])]
    assert got == [("RawMail", "a.msg"), ("RawMail", "b.eml"), ("RawMail", "d.msg")]
    assert list(iter_mail([str(tmp_path / "c.doc")])) == [SourceError(f"file:{tmp_path / 'c.doc'}", "not a mail file")]
    assert [i.raw for i in iter_mail([str(tmp_path / "a.msg")]) if isinstance(i, RawMail)] == [msg]


def test_staff_download_the_raw_msg_as_it_came(tmp_path):
    from tests.test_datasette_staff import get, ingest_into, start

    raw = build_msg(report_item(attachments=documents()[:1]))
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "bao-cao.msg").write_bytes(raw)
    ds = start(ingest_into(tmp_path, tmp_path / "inbox"), env={})
    [message] = get(ds, "/demo/messages.json", params={"_shape": "array"}).json()
    response = get(ds, f"/-/tai-ve/demo/thu?id={message['id']}")
    assert response.status_code == 200 and response.content == raw
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and ".msg" in disposition
