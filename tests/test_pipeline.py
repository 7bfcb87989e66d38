"""End to end on the bundled sample inbox: raw store, derivation, attribution and statuses."""

from __future__ import annotations

import hashlib
import json
import mailbox
from datetime import datetime

import pytest

from pipeline.flow import ingest, reprocess, statuses
from pipeline.store import open_db
from tests.conftest import SAMPLE_INBOX
from tests.fixtures.make_sample_inbox import EXPECTED, NOW, UNATTRIBUTED


@pytest.fixture(scope="module")
def sample_status(sample_db, campaign):
    return {s.unit: s for s in statuses(sample_db, campaign, datetime.fromisoformat(NOW))}


@pytest.mark.parametrize("unit", sorted(EXPECTED))
def test_each_unit_gets_the_expected_status(sample_status, unit):
    got, want = sample_status[unit], EXPECTED[unit]
    assert got.status == want["status"]
    assert sorted(got.missing_attachments) == sorted(want["missing_attachments"])
    assert sorted(got.missing_sections) == sorted(want["missing_sections"])
    for flag in want["flags"]:
        assert flag in got.flags


def test_every_raw_message_is_kept_byte_for_byte(sample_db):
    files = sorted(SAMPLE_INBOX.glob("*.eml"))
    stored = {row["sha256"]: row["raw"] for row in sample_db.query("select sha256, raw from raw_messages")}
    for f in files:
        data = f.read_bytes()
        assert stored[hashlib.sha256(data).hexdigest()] == data
    assert sample_db["message_sources"].count == len(files)


def test_unrelated_and_auto_reply_mail_is_stored_but_not_counted(sample_db, sample_status):
    unrelated = list(sample_db.query("select * from messages where campaign_id is null"))
    assert any("Báo giá" in (m["subject"] or "") for m in unrelated)
    auto = list(sample_db.query("select * from messages where auto_reply = 1"))
    assert auto
    assert all(m["id"] not in s.messages for m in auto for s in sample_status.values())


def test_duplicate_delivery_counts_once(sample_status):
    assert "resubmitted" not in sample_status["so-noi-vu"].flags
    assert len(sample_status["so-noi-vu"].messages) == 1


def test_unit_found_by_the_report_issuer_and_by_the_forwarded_sender(sample_db):
    basis = dict(sample_db.execute("select unit_id, unit_basis from messages where unit_id is not null").fetchall())
    assert basis["so-giao-duc"] == "issuer"
    assert basis["hoi-nong-dan"] == "forwarded_sender"


def test_sections_are_searchable_without_diacritics(sample_db):
    rows = sample_db.execute(
        "select s.key from sections s join sections_fts f on f.rowid = s.rowid "
        "where sections_fts match ? limit 5", ['"quy che dan chu"']).fetchall()
    assert rows


def test_ingesting_again_changes_nothing(tmp_path, db, campaign):
    first = ingest(db, [str(SAMPLE_INBOX)], [campaign])
    counts = {t: db[t].count for t in ("raw_messages", "messages", "documents", "sections", "flags")}
    second = ingest(db, [str(SAMPLE_INBOX)], [campaign])
    assert first.new == first.seen - first.known and first.new > 0
    assert second.new == 0 and second.known == second.seen
    assert counts == {t: db[t].count for t in counts}


def test_maildir_and_mbox_give_the_same_statuses(tmp_path, db, campaign, sample_status):
    box = mailbox.mbox(str(tmp_path / "inbox.mbox"))
    for f in sorted(SAMPLE_INBOX.glob("*.eml")):
        box.add(mailbox.mboxMessage(f.read_bytes()))
    box.flush()
    ingest(db, [str(tmp_path / "inbox.mbox")], [campaign])
    got = {s.unit: (s.status, s.missing_attachments, s.missing_sections)
           for s in statuses(db, campaign, datetime.fromisoformat(NOW))}
    assert got == {u: (s.status, s.missing_attachments, s.missing_sections) for u, s in sample_status.items()}


def test_reprocess_rebuilds_the_same_rows(tmp_path, db, campaign):
    ingest(db, [str(SAMPLE_INBOX)], [campaign])
    before = [dict(r) for r in db.query("select id, key, text from sections order by id")]
    assert reprocess(db, [campaign]) == db["raw_messages"].count
    assert before == [dict(r) for r in db.query("select id, key, text from sections order by id")]


def test_reprocess_leaves_rows_already_as_derived_alone(db, campaign):
    """Nothing changed: only each mail's derivation time is written (the full-text index and the
    other indexes are not rewritten); a changed campaign rewrites the rows it changes."""
    import dataclasses

    ingest(db, [str(SAMPLE_INBOX)], [campaign])
    rowids = "select rowid, id from sections order by rowid"
    before, derived = db.execute(rowids).fetchall(), db.execute("select max(derived_at) from messages").fetchone()[0]
    assert reprocess(db, [campaign]) == db["raw_messages"].count
    assert db.execute(rowids).fetchall() == before
    assert db.execute("select count(*) from messages where derived_at < ?", [derived]).fetchone()[0] == 0
    renamed = dataclasses.replace(campaign, id="nq03-2022-lan-2")
    reprocess(db, [renamed])
    assert {r[0] for r in db.execute("select distinct campaign_id from sections")} == {"nq03-2022-lan-2"}
    assert db.execute(rowids).fetchall() != before


def test_a_crash_between_storing_and_deriving_is_repaired_on_the_next_run(tmp_path, db, campaign):
    from pipeline.store import save_raw

    first = sorted(SAMPLE_INBOX.glob("*.eml"))[0]
    save_raw(db, first.read_bytes(), f"file:{first}", None)  # stored raw, then "killed"
    ingest(db, [str(SAMPLE_INBOX)], [campaign])
    assert db["messages"].count == db["raw_messages"].count


def test_status_table_for_datasette_matches(sample_db):
    rows = {r["unit_id"]: r for r in sample_db.query("select * from unit_status")}
    assert rows["so-cong-thuong"]["status"] == "late"
    assert json.loads(rows["so-cong-thuong"]["missing_attachments"]) == ["quy_che_dan_chu"]
    assert rows["so-cong-thuong"]["status_label"] == "Trễ hạn"


def test_a_report_nobody_could_attribute_is_listed_apart_and_counts_for_no_unit(sample_db, sample_status):
    stray = sample_status[None]
    assert stray.status == UNATTRIBUTED["status"] and stray.missing_attachments == UNATTRIBUTED["missing_attachments"]
    assert all(f in stray.flags for f in UNATTRIBUTED["flags"])
    assert sorted(r["unit_id"] for r in sample_db.query("select unit_id from unit_status")) == sorted(EXPECTED)
    (row,) = sample_db.query("select * from unattributed_submissions")
    assert row["from_addr"] == UNATTRIBUTED["from"] and row["report"] == stray.report
    issuer = sample_db.execute("select issuer from documents where id = ?", [stray.report]).fetchone()[0]
    assert issuer.casefold() == UNATTRIBUTED["issuer"].casefold()


def test_without_received_the_date_header_is_used_and_flagged(tmp_path, db, campaign):
    import email

    from tests.fixtures.documents import Report
    from tests.fixtures.mail import VN, build_mail

    report = Report("Đảng ủy Sở Nội vụ", "ĐẢNG ỦY SỞ NỘI VỤ", "60-BC/ĐU", (2022, 6, 9), "Nguyễn Thị Mai")
    raw = build_mail(sender="dangbo@snv.example.vn", sender_name="Đảng bộ Sở Nội vụ",
                     subject="Báo cáo NQ03", received=datetime(2022, 6, 10, 9, 0, tzinfo=VN),
                     attachments=[("bao-cao.docx", report.docx())])
    msg = email.message_from_bytes(raw)
    del msg["Received"]
    (tmp_path / "no-received.eml").write_bytes(msg.as_bytes())
    ingest(db, [str(tmp_path / "no-received.eml")], [campaign])
    row = next(db.query("select received_at, received_basis from messages"))
    assert row["received_basis"] == "date" and row["received_at"].startswith("2022-06-10T08:58")
    assert db.execute("select count(*) from flags where kind = 'receipt_time_from_date'").fetchone()[0] == 1
    noi_vu = next(s for s in statuses(db, campaign, datetime.fromisoformat(NOW)) if s.unit == "so-noi-vu")
    assert noi_vu.status == "on_time" and "receipt_time_from_date" in noi_vu.flags


def test_a_database_from_before_closed_campaigns_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table campaigns (id text primary key, title text, deadline text, path text, outline text)")
        conn.execute("insert into campaigns values ('old', 'Đợt cũ', '2021-06-15T00:00:00+07:00', '', '[]')")
    conn.close()
    db = open_db(str(path))
    assert list(db.query("select id, closed from campaigns")) == [{"id": "old", "closed": 0}]
