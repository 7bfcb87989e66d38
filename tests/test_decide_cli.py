"""Staff decisions from the command line (`intake decide ...`, `intake decisions`), on the sample
inbox: each kind with the status before, after, and after `intake reprocess`; undo; what cannot be
decided (exit 2, nothing written); a mail received again; decisions whose target is gone."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime

import pytest
import yaml

from tests.conftest import CAMPAIGN_FILE, SAMPLE_INBOX
from tests.fixtures.mail import VN, build_mail
from tests.fixtures.make_sample_inbox import NOW, UNATTRIBUTED


@pytest.fixture
def cli(run_cli, sample_db, tmp_path):
    """run_cli on a copy of the ingested sample inbox."""
    sample_db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(sample_db.conn.execute("PRAGMA database_list").fetchone()[2], tmp_path / "intake.db")
    return run_cli


def status(cli, *args: str) -> dict:
    result = cli("status", "--json", "--now", NOW, *args)
    assert result.exit_code == 0, result.output
    return {row["unit"] or f"?{row['messages'][0]}": row for row in json.loads(result.output)}


def one(db_path, sql: str, args=()):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, args).fetchone()
    finally:
        conn.close()


def decided(cli, *args: str) -> int:
    result = cli("decide", *args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("decision ")
    return int(result.output.split()[1].rstrip(":"))


def check(cli, unit: str, **want):
    """The unit's status as wanted, now and after `intake reprocess`."""
    for _ in range(2):
        got = status(cli)[unit]
        assert {k: got[k] for k in want} == want, got
        assert cli("--quiet", "reprocess", "--workers", "1").exit_code == 0


def stray_mail(tmp_path) -> str:
    (mail_id,) = one(tmp_path / "intake.db", "select id from messages where from_addr = ?", [UNATTRIBUTED["from"]])
    return mail_id


def test_assign_a_stray_by_a_prefix_of_its_id(cli, tmp_path):
    mail = stray_mail(tmp_path)
    before = status(cli)
    assert before["so-y-te"]["status"] == "missing" and f"?{mail}" in before
    n = decided(cli, "assign", mail[:10], "so-y-te", "--note", "Văn thư Sở Y tế gửi từ Gmail")
    check(cli, "so-y-te", status="on_time", missing_attachments=["quy_che_dan_chu"], decisions=[n],
          messages=[mail])
    assert not [u for u in status(cli) if u.startswith("?")]  # no longer nobody's


def test_assign_remembering_the_sender_attributes_the_next_mail_too(cli, tmp_path):
    mail = stray_mail(tmp_path)
    n = decided(cli, "assign", mail, "so-y-te", "--remember-sender")
    assert one(tmp_path / "intake.db", "select address from decisions")[0] == UNATTRIBUTED["from"]
    later = tmp_path / "later.eml"
    later.write_bytes(build_mail(sender=UNATTRIBUTED["from"], sender_name="Van thu", subject="Bổ sung quy chế NQ03",
                                 received=datetime(2022, 6, 17, 9, 0, tzinfo=VN),
                                 attachments=[("Quy chế dân chủ.docx", quy_che())]))
    assert cli("ingest", str(later)).exit_code == 0
    check(cli, "so-y-te", status="on_time", missing_attachments=[], decisions=[n],
          flags=["late_attachment:quy_che_dan_chu"])


def quy_che() -> bytes:
    from tests.fixtures.documents import quy_che_docx

    return quy_che_docx("Sở Y tế")


def test_ignore_by_message_id(cli, tmp_path):
    assert status(cli)["so-cong-thuong"]["status"] == "late"
    (report,) = one(tmp_path / "intake.db", "select message_id from messages m join documents d on d.message = m.id "
                    "where m.unit_id = 'so-cong-thuong' and d.kind = 'report'")
    n = decided(cli, "ignore", f"<{report}>", "--note", "Gửi nhầm đợt")
    check(cli, "so-cong-thuong", status="missing", decisions=[n])


def test_kind_says_what_a_file_is(cli, tmp_path):
    (attachment,) = one(tmp_path / "intake.db", "select d.id from documents d join messages m on m.id = d.message "
                        "where m.unit_id = 'so-tai-chinh' and d.kind = 'quy_che_dan_chu'")
    assert status(cli)["so-tai-chinh"]["missing_attachments"] == ["quyet_dinh_bcd"]
    n = decided(cli, "kind", attachment, "quyet_dinh_bcd")
    check(cli, "so-tai-chinh", missing_attachments=["quy_che_dan_chu"], decisions=[n])


def overdue(cli) -> set:
    due = json.loads(cli("alerts", "--json", "--now", "2022-06-16T08:00:00+07:00").output)
    return {a["unit"] for a in due if a["kind"] == "overdue"}


def test_exempt_and_undo_and_undo_the_undo(cli):
    assert "so-y-te" in overdue(cli)
    n = decided(cli, "exempt", "so-y-te", "--note", "Công văn số 12 xin miễn")
    check(cli, "so-y-te", status="exempt", missing_attachments=[], decisions=[n])
    assert "so-y-te" not in overdue(cli)
    undo = decided(cli, "undo", str(n))
    check(cli, "so-y-te", status="missing", decisions=[])
    decided(cli, "undo", str(undo))
    check(cli, "so-y-te", status="exempt", decisions=[n])
    listed = json.loads(cli("decisions", "--json").output)
    assert [(d["id"], d["kind"], d["state"]) for d in listed] == [
        (undo + 1, "undo", "in_force"), (undo, "undo", "revoked"), (n, "exempt", "in_force")]
    assert listed[2]["note"] == "Công văn số 12 xin miễn" and listed[2]["by"]
    again = cli("decide", "undo", str(undo))
    assert again.exit_code == 2 and "already withdrawn" in again.output


def test_paper_counts_from_its_time(cli):
    assert status(cli)["so-cong-thuong"]["status"] == "late"
    n = decided(cli, "paper", "so-cong-thuong", "--at", "2022-06-14T09:00")  # the campaign's time zone
    check(cli, "so-cong-thuong", status="on_time", received_at="2022-06-14T09:00:00+07:00",
          missing_attachments=[], decisions=[n])
    assert "on_paper" in status(cli)["so-cong-thuong"]["flags"]
    bad = cli("decide", "paper", "so-y-te", "--at", "hôm qua")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_note_is_kept_and_shapes_nothing(cli):
    before = status(cli)["so-noi-vu"]
    n = decided(cli, "note", "so-noi-vu", "Đã gọi điện nhắc bổ sung bản có chữ ký")
    check(cli, "so-noi-vu", status=before["status"], decisions=[])
    (listed,) = json.loads(cli("decisions", "--json").output)
    assert (listed["id"], listed["value"], listed["state"]) == (n, "Đã gọi điện nhắc bổ sung bản có chữ ký", "in_force")
    assert "Đã gọi điện" in cli("decisions").output


@pytest.mark.parametrize("args, named", [
    (("assign", "0123456789abcdef", "so-y-te"), "unknown mail '0123456789abcdef'"),
    (("assign", "abc", "so-y-te"), "unknown mail 'abc'"),
    (("ignore", "<khong-co@example.vn>"), "unknown mail"),
    (("exempt", "so-khong-co"), "unknown unit 'so-khong-co'"),
    (("note", "so-khong-co", "x"), "unknown unit 'so-khong-co'"),
    (("kind", "khong-co:2", "report"), "unknown attachment 'khong-co:2'"),
    (("undo", "99"), "unknown decision '99'"),
])
def test_what_cannot_be_decided_exits_2_in_one_line_and_writes_nothing(cli, tmp_path, args, named):
    result = cli("decide", *args)
    assert result.exit_code == 2 and named in result.output and len(result.output.strip().splitlines()) == 1
    assert one(tmp_path / "intake.db", "select count(*) from decisions")[0] == 0


def test_an_unknown_kind_or_unit_for_a_known_mail_is_named(cli, tmp_path):
    mail = stray_mail(tmp_path)
    (attachment,) = one(tmp_path / "intake.db", "select id from attachments where message = ?", [mail])
    result = cli("decide", "kind", attachment, "bien_ban")
    assert result.exit_code == 2 and "unknown kind 'bien_ban'" in result.output and "quy_che_dan_chu" in result.output
    result = cli("decide", "assign", mail, "benh-vien")
    assert result.exit_code == 2 and "unknown unit 'benh-vien'" in result.output
    assert one(tmp_path / "intake.db", "select count(*) from decisions")[0] == 0


def test_a_decision_holds_when_the_mail_is_received_again(cli, tmp_path):
    mail = stray_mail(tmp_path)
    n = decided(cli, "assign", mail, "so-y-te")
    again = tmp_path / "tu-hop-thu-khac"
    again.mkdir()
    shutil.copy(SAMPLE_INBOX / UNATTRIBUTED["file"], again / "cung-thu.eml")  # the same bytes, another source
    assert "0 new, 1 already stored" in cli("ingest", str(again)).output
    check(cli, "so-y-te", status="on_time", decisions=[n], messages=[mail])
    assert one(tmp_path / "intake.db", "select count(*) from message_sources where sha256 = ?", [mail])[0] == 2


def test_decisions_about_what_is_gone_are_kept_and_shown_as_not_applied(cli, tmp_path, monkeypatch):
    mail = stray_mail(tmp_path)
    assign, exempt = decided(cli, "assign", mail, "so-y-te"), decided(cli, "exempt", "so-tai-chinh")
    data = yaml.safe_load(CAMPAIGN_FILE.read_text(encoding="utf-8"))
    data["units"] = [u for u in data["units"] if u["id"] != "so-tai-chinh"]  # removed from the roster
    smaller = tmp_path / "nq03-2022.yml"
    smaller.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("INTAKE_RULES", str(smaller))
    assert cli("--quiet", "reprocess", "--workers", "1").exit_code == 0
    conn = sqlite3.connect(tmp_path / "intake.db")
    with conn:  # someone deleted the mail by hand
        for table in ("sections", "flags", "documents", "attachments", "messages"):
            conn.execute(f"delete from {table} where {'id' if table == 'messages' else 'message'} = ?", [mail])
    conn.close()
    listed = {d["id"]: d["state"] for d in json.loads(cli("decisions", "--json").output)}
    assert listed == {assign: "mail_gone", exempt: "unit_gone"}
    assert "Không áp dụng" not in cli("decisions").output  # the command line speaks English codes
    assert status(cli)["so-y-te"]["status"] == "missing"
    assert one(tmp_path / "intake.db", "select count(*) from decisions")[0] == 2
