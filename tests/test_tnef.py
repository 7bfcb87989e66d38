"""winmail.dat: Outlook in "Rich Text" mode wraps a unit's attachments in TNEF. Its files must count
exactly as if they had been attached to the mail, within the archive limits, and a damaged stream
must be a flag, never a traceback."""

from __future__ import annotations

import json
import sqlite3
import struct
import time
import unicodedata
from datetime import datetime
from email.message import EmailMessage

import pytest
from tnefparse.tnef import TNEF

from extractors import formats
from extractors.archives import archive_format, expand, is_archive
from pipeline.mime import parse_mail
from tests.conftest import shared_path
from tests.fixtures._docx_util import zip_bytes
from tests.fixtures.documents import quy_che_docx, quyet_dinh_bcd_docx
from tests.fixtures.mail import VN, build_mail
from tests.fixtures.make_sample_inbox import NOW, REPORTS, SUBJECT
from tests.fixtures.tnef import (
    ATT_ATTACH_DATA,
    ATT_ATTACH_RENDDATA,
    ATT_ATTACHMENT,
    LEVEL_ATTACHMENT,
    PR_ATTACH_LONG_FILENAME,
    PT_LONG,
    ansi,
    attribute,
    build_tnef,
)

REPORT_NAME = "Báo cáo sơ kết 01 năm thực hiện Nghị quyết số 03-NQ của Đảng ủy Sở Tài chính.docx"
QUY_CHE_NAME = "Quy chế dân chủ trong hoạt động của cơ quan Sở Tài chính.docx"


def kinds(flags) -> list[str]:
    return [f.kind for f in flags]


def nfc(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(unicodedata.normalize("NFC", name), data) for name, data in members]


def ms_tnef(raw: bytes) -> bytes:
    """The mail as Exchange sends it: winmail.dat declared application/ms-tnef (build_mail writes
    application/octet-stream for a .dat)."""
    before = b'Content-Type: application/octet-stream;\r\n name="winmail.dat"'
    assert raw.count(before) == 1
    return raw.replace(before, b'Content-Type: application/ms-tnef;\r\n name="winmail.dat"')


# ---- the fixture builder, checked by tnefparse itself ----------------------------------------------
def test_builder_output_is_what_tnefparse_reads():
    files = [(REPORT_NAME, b"PK\x03\x04 report"), (QUY_CHE_NAME, b"%PDF-1.4 regulation")]
    stream = build_tnef(files)
    assert stream[:4] == b"\x78\x9f\x3e\x22"
    parsed = TNEF(stream)
    assert parsed.codepage == "cp1258"
    assert all(obj.good_checksum for obj in parsed.objects)
    assert [(a.long_filename(), a.data) for a in parsed.attachments] == files
    # Without PR_ATTACH_LONG_FILENAME only the title remains, in cp1258 with combining tone marks.
    title_only = TNEF(build_tnef([("Phụ lục.docx", b"x")], long_filenames=False))
    assert ansi("Phụ lục.docx", 1258) == b"Phu\xf2 lu\xf2c.docx"
    assert [a.data for a in title_only.attachments] == [b"x"]
    assert all(p.name != PR_ATTACH_LONG_FILENAME for p in title_only.attachments[0].mapi_attrs)
    # An attached Outlook item: PR_ATTACH_DATA_OBJ holds the item's own TNEF stream.
    [item] = TNEF(build_tnef([], items=[("Chuyển tiếp", build_tnef([("a.txt", b"hello")]))])).attachments
    assert [(a.long_filename(), a.data) for a in item.embed.attachments] == [("a.txt", b"hello")]


# ---- extractors.archives: TNEF as a container -----------------------------------------------------
def test_tnef_is_recognized_by_its_signature():
    stream = build_tnef([("a.txt", b"x")])
    assert archive_format(stream) == "tnef" and is_archive(stream)
    assert formats.TNEF.media_type == "application/vnd.ms-tnef"
    assert archive_format(b"winmail.dat is not a signature") is None


def test_files_come_out_with_their_long_vietnamese_names():
    files = [(REPORT_NAME, b"report bytes"), (QUY_CHE_NAME, b"regulation bytes"), ("ghi chú.txt", b"")]
    assert expand(build_tnef(files), "winmail.dat") == (files, [])


def test_without_a_long_name_the_title_is_read_in_the_senders_code_page():
    # tnefparse alone decodes attAttachTitle as UTF-8 and fails on these bytes.
    members, flags = expand(build_tnef([(QUY_CHE_NAME, b"q")], long_filenames=False))
    assert nfc(members) == [(QUY_CHE_NAME, b"q")] and flags == []


def test_a_body_only_stream_holds_no_files_and_is_no_error():
    # Every Rich Text mail carries a winmail.dat, also those with nothing attached.
    assert expand(build_tnef([])) == ([], [])


def test_same_name_twice_and_no_name_at_all():
    stream = build_tnef([("Báo cáo.docx", b"1"), ("Báo cáo.docx", b"2")])
    nameless = struct.pack("<IH", 0x223E9F78, 0) + attribute(LEVEL_ATTACHMENT, ATT_ATTACH_RENDDATA, b"\x00" * 14) \
        + attribute(LEVEL_ATTACHMENT, ATT_ATTACH_DATA, b"x")
    assert expand(stream)[0] == [("Báo cáo.docx", b"1"), ("Báo cáo.docx~2", b"2")]
    assert expand(nameless) == ([("attachment-1", b"x")], [])


def _truncated() -> bytes:
    stream = build_tnef([("Báo cáo.docx", b"report"), ("Quy chế.pdf", b"%PDF-1.4" + b"x" * 200)])
    return stream[:-100]


def _flipped() -> bytes:
    stream = bytearray(build_tnef([("Báo cáo.docx", b"report bytes")]))
    stream[stream.index(b"report bytes")] ^= 0x01
    return bytes(stream)


def _forged_mapi_count() -> bytes:
    # POI's oom.tnef in an attachment, with a valid checksum: 0xFFFFFFF0 values of a multi-valued
    # PT_LONG that tnefparse would allocate one by one.
    props = struct.pack("<IHHI", 1, 0x1000 | PT_LONG, PR_ATTACH_LONG_FILENAME, 0xFFFFFFF0)
    return (struct.pack("<IH", 0x223E9F78, 0) + attribute(LEVEL_ATTACHMENT, ATT_ATTACH_RENDDATA, b"\x00" * 14)
            + attribute(LEVEL_ATTACHMENT, 0x00018010, b"bao-cao.docx\x00")
            + attribute(LEVEL_ATTACHMENT, ATT_ATTACH_DATA, b"report")
            + attribute(LEVEL_ATTACHMENT, ATT_ATTACHMENT, props))


@pytest.mark.parametrize("stream, members, detail", [
    (_truncated(), [("Báo cáo.docx", b"report")], "truncated"),
    (_flipped(), [("Báo cáo.docx", b"seport bytes")], "checksum mismatch"),
    (_forged_mapi_count(), [("bao-cao.docx", b"report")], "damaged MAPI properties"),
    (b"\x78\x9f\x3e\x22", [], "stream is empty"),
    (b"\x78\x9f\x3e\x22\x00\x00" + bytes(range(256)) * 4, [], "truncated"),
], ids=["truncated", "bit-flip", "forged-mapi-count", "signature-only", "garbage"])
def test_damage_is_a_flag_and_the_intact_files_are_kept(stream, members, detail):
    started = time.monotonic()
    got, flags = expand(stream, "winmail.dat")
    assert time.monotonic() - started < 5
    assert got == members
    assert kinds(flags) == ["archive_error"]
    assert flags[0].detail.startswith("winmail.dat: ") and detail in flags[0].detail


def test_one_attachment_with_thousands_of_attributes_is_not_parsed():
    # tnefparse copies the rest of the stream for every attribute: quadratic on a crafted stream.
    stream = build_tnef([("a.txt", b"a")]) + attribute(LEVEL_ATTACHMENT, ATT_ATTACH_RENDDATA, b"\x00" * 14) \
        + attribute(LEVEL_ATTACHMENT, 0x00018010, b"b.txt\x00") * 5000 \
        + attribute(LEVEL_ATTACHMENT, ATT_ATTACH_DATA, b"b")
    members, flags = expand(stream, "winmail.dat")
    assert members == [("a.txt", b"a")]
    assert kinds(flags) == ["archive_error"] and "attachment 2: 5002 TNEF attributes" in flags[0].detail


def test_member_and_size_limits_apply_to_tnef():
    stream = build_tnef([(f"phu-luc-{i}.txt", b"x" * 100) for i in range(5)])
    members, flags = expand(stream, "winmail.dat", max_members=3)
    assert len(members) == 3 and kinds(flags) == ["archive_limit"] and "more than 3 members" in flags[0].detail
    members, flags = expand(stream, "winmail.dat", max_total_bytes=250)
    assert len(members) == 2 and kinds(flags) == ["archive_limit"] and "more than 250 bytes" in flags[0].detail


def test_depth_counts_tnef_like_any_archive():
    inner_zip = zip_bytes({"Báo cáo.docx": b"report"})
    tnef_with_zip = build_tnef([("ho-so.zip", inner_zip)])
    assert expand(tnef_with_zip)[0] == [("ho-so.zip", inner_zip), ("ho-so.zip/Báo cáo.docx", b"report")]
    members, flags = expand(tnef_with_zip, "winmail.dat", max_depth=1)
    assert members == [("ho-so.zip", inner_zip)]
    assert kinds(flags) == ["archive_limit"] and "ho-so.zip: nested deeper than 1" in flags[0].detail

    zip_with_tnef = zip_bytes({"winmail.dat": build_tnef([("Báo cáo.docx", b"report")])})
    assert expand(zip_with_tnef)[0][1] == ("winmail.dat/Báo cáo.docx", b"report")
    members, flags = expand(zip_with_tnef, "ho-so.zip", max_depth=1)
    assert [m for m, _ in members] == ["winmail.dat"] and kinds(flags) == ["archive_limit"]


def test_an_attached_outlook_item_is_opened_as_a_nested_tnef():
    inner = build_tnef([("Báo cáo.docx", b"report")])
    stream = build_tnef([("Công văn.pdf", b"%PDF")], items=[("Chuyển tiếp báo cáo", inner)])
    members, flags = expand(stream)
    assert flags == [] and nfc(members) == [
        ("Công văn.pdf", b"%PDF"), ("Chuyển tiếp báo cáo", inner), ("Chuyển tiếp báo cáo/Báo cáo.docx", b"report")]
    members, flags = expand(stream, max_depth=1)
    assert len(members) == 2 and kinds(flags) == ["archive_limit"]


# ---- pipeline.mime: members become attachments of the mail ----------------------------------------
def _mail(attachments: list[tuple[str, bytes]], **kw) -> bytes:
    return build_mail(sender="dangbo@stc.example.vn", sender_name="Đảng bộ Sở Tài chính", subject=f"V/v {SUBJECT}",
                      received=datetime(2022, 6, 13, 16, 42, tzinfo=VN), filename_style="rfc2047",
                      attachments=attachments, **kw)


def test_winmail_dat_members_are_attachments_of_the_mail():
    hoso = zip_bytes({"Phụ lục.pdf": b"%PDF-1.4"})
    stream = build_tnef([(REPORT_NAME, b"report"), ("Hồ sơ.zip", hoso)])
    mail = parse_mail(ms_tnef(_mail([("winmail.dat", stream)])))
    assert [(a.filename, a.content_type, a.part, a.origin) for a in mail.attachments] == [
        ("winmail.dat", "application/vnd.ms-tnef", "2", "mime"),
        (REPORT_NAME, "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         f"2/{REPORT_NAME}", "tnef"),
        ("Hồ sơ.zip", "application/zip", "2/Hồ sơ.zip", "tnef"),
        ("Phụ lục.pdf", "application/pdf", "2/Hồ sơ.zip/Phụ lục.pdf", "tnef"),
    ]
    assert mail.flags == [] and mail.attachments[1].data == b"report"


def test_a_mail_that_is_nothing_but_winmail_dat():
    # Exchange may send the TNEF as the whole message, without a multipart around it.
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "dangbo@stc.example.vn", "vanphong@example.vn", SUBJECT
    msg.set_content(build_tnef([(REPORT_NAME, b"report")]), maintype="application", subtype="ms-tnef",
                    filename="winmail.dat")
    mail = parse_mail(msg.as_bytes())
    assert [(a.filename, a.part, a.origin) for a in mail.attachments] == [
        ("winmail.dat", "1", "mime"), (REPORT_NAME, f"1/{REPORT_NAME}", "tnef")]


@pytest.mark.parametrize("data, detail", [(b"", "winmail.dat: empty"), (b"\x89PNG\r\n\x1a\n", "no TNEF signature")])
def test_a_declared_winmail_dat_without_tnef_inside_is_flagged_and_kept(data, detail):
    for raw in (_mail([("winmail.dat", data)]), ms_tnef(_mail([("winmail.dat", data)]))):  # by name, by type
        mail = parse_mail(raw)
        assert [(a.filename, a.data, a.origin) for a in mail.attachments] == [("winmail.dat", data, "mime")]
        assert kinds(mail.flags) == ["archive_error"] and detail in mail.flags[0].detail


# ---- end to end through the CLI ---------------------------------------------------------------------
def _documents() -> list[tuple[str, bytes]]:
    return [(REPORT_NAME, REPORTS["so-tai-chinh"].docx()), (QUY_CHE_NAME, quy_che_docx("Sở Tài chính")),
            ("Quyết định thành lập Ban Chỉ đạo.docx", quyet_dinh_bcd_docx("Sở Tài chính"))]


def _ingest_and_status(run_cli, tmp_path, name: str, raw: bytes) -> dict:
    (tmp_path / name).mkdir()
    (tmp_path / name / "mail.eml").write_bytes(raw)
    db = str(tmp_path / f"{name}.db")
    result = run_cli("ingest", "--db", db, str(tmp_path / name))
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    rows = json.loads(run_cli("status", "--json", "--now", NOW, "--db", db).output)
    return next(r for r in rows if r["unit"] == "so-tai-chinh")


def _rows(tmp_path, name: str, sql: str) -> list[tuple]:
    return sqlite3.connect(tmp_path / f"{name}.db").execute(sql).fetchall()


def test_a_unit_sending_through_winmail_dat_gets_the_status_of_a_direct_submission(run_cli, tmp_path):
    docs = _documents()
    direct = _ingest_and_status(run_cli, tmp_path, "direct", _mail(docs))
    wrapped = _ingest_and_status(run_cli, tmp_path, "tnef", ms_tnef(_mail([("winmail.dat", build_tnef(docs))])))
    assert direct["status"] == "on_time" and direct["missing_attachments"] == [] and direct["missing_sections"] == []
    same = ("status", "received_at", "missing_attachments", "missing_sections", "flags")  # ids differ, of course
    assert {k: wrapped[k] for k in same} == {k: direct[k] for k in same}
    kinds_by_name = "select filename, kind from documents order by filename"
    assert _rows(tmp_path, "tnef", kinds_by_name) == _rows(tmp_path, "direct", kinds_by_name)
    by_origin = "select origin, count(*) from attachments group by origin"
    assert _rows(tmp_path, "tnef", by_origin) == [("mime", 1), ("tnef", 3)]


def test_a_damaged_winmail_dat_is_a_flag_and_the_rest_of_the_mail_counts(run_cli, tmp_path):
    report, quy_che, _ = _documents()
    broken = build_tnef([quy_che])[:-500]  # the regulation cut short in transit
    row = _ingest_and_status(run_cli, tmp_path, "broken", ms_tnef(_mail([report, ("winmail.dat", broken)])))
    assert row["status"] == "on_time" and row["missing_attachments"] == ["quy_che_dan_chu", "quyet_dinh_bcd"]
    [(detail,)] = _rows(tmp_path, "broken", "select detail from flags where kind = 'archive_error'")
    assert detail.startswith("winmail.dat: TNEF truncated")
    assert _rows(tmp_path, "broken", "select count(*) from flags where kind = 'processing_error'") == [(0,)]


@pytest.mark.parametrize("depth, status", [("1", "missing"), ("2", "on_time")])
def test_a_winmail_dat_inside_a_zip_respects_the_depth_limit(run_cli, tmp_path, monkeypatch, depth, status):
    monkeypatch.setenv("INTAKE_MAX_ARCHIVE_DEPTH", depth)
    hoso = zip_bytes({"winmail.dat": build_tnef(_documents())})
    row = _ingest_and_status(run_cli, tmp_path, "zipped", _mail([("Hồ sơ báo cáo.zip", hoso)]))
    assert row["status"] == status
    limited = _rows(tmp_path, "zipped", "select detail from flags where kind = 'archive_limit'")
    assert limited == ([("Hồ sơ báo cáo.zip: winmail.dat: nested deeper than 1 archives, not opened",)]
                       if depth == "1" else [])


# ---- real TNEF from other projects (../shared/corpus, read in place) ------------------------------
CORPUS_TNEF = ["poi_hmef_quick_winmail.dat", "poi_hmef_winmail_sample1.dat", "poi_hmef_winmail_simple.dat",
               "tnefparse_data_before_name.tnef", "tnefparse_garbage_at_end.tnef", "tnefparse_long_filename.tnef",
               "tnefparse_minimal_attachment.tnef", "tnefparse_rtf.tnef", "tnefparse_umlaut.tnef",
               "tnefparse_unicode_mapi_attr.tnef"]


@pytest.mark.parametrize("name", CORPUS_TNEF)
def test_real_tnef_gives_what_tnefparse_gives(name):
    data = shared_path("corpus", "eml", name).read_bytes()
    members, flags = expand(data, name)
    whole = TNEF(data).attachments  # safe on these samples (not on oom.tnef)
    assert flags == [] and [d for _, d in members] == [a.data for a in whole]
    assert [n for n, _ in members] == [a.long_filename() or f"attachment-{i}" for i, a in enumerate(whole, 1)]


def test_real_outlook_winmail_dat_yields_the_files_poi_extracted_from_it():
    members = dict(expand(shared_path("corpus", "eml", "poi_hmef_quick_winmail.dat").read_bytes())[0])
    assert sorted(members) == ["quick.doc", "quick.html", "quick.pdf", "quick.txt", "quick.xml"]
    assert members["quick.doc"] == shared_path("corpus", "doc", "poi_hmef_quick.doc").read_bytes()
    assert members["quick.pdf"] == shared_path("corpus", "pdf", "poi_hmef_quick.pdf").read_bytes()
    mail = parse_mail(ms_tnef(_mail([("winmail.dat", shared_path("corpus", "eml", "poi_hmef_quick_winmail.dat")
                                                     .read_bytes())])))
    assert [(a.filename, a.origin) for a in mail.attachments][1:] == [
        ("quick.doc", "tnef"), ("quick.html", "tnef"), ("quick.pdf", "tnef"), ("quick.txt", "tnef"),
        ("quick.xml", "tnef")]


def test_pois_out_of_memory_tnef_is_a_flag():
    # 53 bytes whose MAPI multi-value count makes tnefparse allocate until the process is killed.
    started = time.monotonic()
    members, flags = expand(shared_path("corpus", "eml", "poi_hmef_oom.tnef").read_bytes(), "oom.tnef")
    assert time.monotonic() - started < 5
    assert members == [] and kinds(flags) == ["archive_error"]


def test_a_real_mail_whose_winmail_dat_is_not_tnef():
    mail = parse_mail(shared_path("corpus", "eml", "zbateson_m4006_winmail_dat.eml").read_bytes())
    assert [(a.filename, a.content_type, a.origin) for a in mail.attachments] == [
        ("winmail.dat", "application/ms-tnef", "mime")]
    assert mail.attachments[0].data.startswith(b"\x89PNG")
    assert kinds(mail.flags) == ["archive_error"] and "no TNEF signature" in mail.flags[0].detail
