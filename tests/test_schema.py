"""The schema declared once (pipeline/schema.py): a database of the first release migrates with
nothing lost, a new one has the same shape, writes are checked against the declarations, and
loading campaigns or deriving never rewrites what is not derived."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import random
import re
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pytest

from pipeline import schema
from pipeline.flow import ingest, refresh_statuses, reprocess
from pipeline.mime import parse_mail
from pipeline.store import open_db, save_campaigns
from rules.campaign import Unit, load_campaign
from tests.conftest import CAMPAIGN_FILE, SAMPLE_INBOX
from tests.fixtures.mail import VN, build_mail

RELEASE_1 = Path(__file__).parent / "fixtures" / "release-1.db.gz"  # tests/fixtures/make_release_db.py
INPUTS = [t.name for t in schema.TABLES if t.role == schema.INPUT]
SINCE_RELEASE_1 = {"decisions", "attributions"}  # tables the first release did not have


def release_db(folder: Path, name: str = "release-1.db") -> Path:
    path = folder / name
    path.write_bytes(gzip.decompress(RELEASE_1.read_bytes()))
    return path


def rows(path: Path, table: str, columns: list[str] | None = None) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        chosen = ", ".join(f"[{c}]" for c in columns) if columns else "*"
        return conn.execute(f"select {chosen} from [{table}] order by rowid").fetchall()
    finally:
        conn.close()


def columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
    finally:
        conn.close()


def shape(conn: sqlite3.Connection) -> dict[str, object]:
    """Columns (name, type, not null, default, key) of every table, and every index, trigger and view."""
    out: dict[str, object] = {}
    for (name,) in conn.execute("select name from sqlite_master where type = 'table' order by name"):
        out[name] = conn.execute(f"PRAGMA table_info([{name}])").fetchall()
        out[f"{name} keys"] = conn.execute(f"PRAGMA foreign_key_list([{name}])").fetchall()
    out["indexes"] = conn.execute("select name, tbl_name from sqlite_master where type = 'index' "
                                  "order by name").fetchall()
    out["triggers"] = conn.execute("select name from sqlite_master where type = 'trigger' order by name").fetchall()
    out["views"] = conn.execute("select name, sql from sqlite_master where type = 'view' order by name").fetchall()
    return out


def test_a_database_of_the_first_release_is_migrated_with_nothing_lost(tmp_path, run_cli):
    from tests.test_datasette_staff import get, start

    path, original = release_db(tmp_path, "migrated.db"), release_db(tmp_path)
    kept = [t for t in schema.TABLES if columns(path, t.name)]  # the tables the release had
    before = {t.name: rows(path, t.name) for t in kept}
    blobs = dict(rows(path, "blobs", ["sha256", "content"]))  # the files, a second time, until version 9
    had = {t.name: columns(path, t.name) for t in kept}
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1
    assert all(before[t] for t in INPUTS if t in before)  # the fixture has every kind of input it knew
    db = open_db(str(path))
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert {t.name: rows(path, t.name, had[t.name]) for t in kept} == before  # nothing lost or rewritten
    assert shape(db.conn) == shape(open_db(str(tmp_path / "new.db")).conn)  # the shape a new database has
    db.close()
    ds = start(str(path), env={})  # each file found again in its raw mail, as the release kept it
    downloads = {digest: get(ds, "/-/tai-ve/migrated/tep", params={"id": ident}).content
                 for ident, digest in rows(path, "attachments", ["id", "sha256"])}
    assert downloads == blobs and blobs
    # Derived again by this release: every input as it was, the statuses those of the release; and
    # a staff decision made on it kept through a reprocess.
    inputs = [t for t in INPUTS if t in before]
    assert run_cli("--quiet", "reprocess", "--db", str(path)).exit_code == 0
    assert {t: rows(path, t, had[t]) for t in inputs} == {t: before[t] for t in inputs}
    assert rows(path, "messages") and len(rows(path, "messages")) == len(before["messages"])
    # The statuses of the release's units (the campaign file has gained one since), all but when.
    keep = ["campaign_id", "unit_id", "status", "received_at", "deadline", "missing_attachments",
            "missing_sections", "flags", "report", "messages"]
    was = {r[:2]: r for r in rows(original, "submissions", keep)}
    now = {r[:2]: r for r in rows(path, "submissions", keep) if r[:2] in was}
    assert now == was
    assert run_cli("--quiet", "decide", "exempt", "so-y-te", "--db", str(path)).exit_code == 0
    assert run_cli("--quiet", "reprocess", "--db", str(path)).exit_code == 0
    assert rows(path, "decisions", ["kind", "target"]) == [("exempt", "so-y-te")]
    assert ("nq03-2022", "so-y-te", "exempt") in rows(path, "submissions", ["campaign_id", "unit_id", "status"])


def test_a_database_from_before_staff_decisions_is_upgraded_in_place(tmp_path, campaign):
    """Schema version 2 (no decisions, attributions or submissions.decisions) to this one, every row kept."""
    path = tmp_path / "intake.db"
    ingest(open_db(str(path)), [str(SAMPLE_INBOX)], [campaign], workers=1)
    conn = sqlite3.connect(path)
    conn.executescript("""drop table decisions; drop table attributions; drop view unit_status;
        alter table submissions drop column decisions; pragma user_version = 4;""")
    conn.close()
    tables = [t.name for t in schema.TABLES if t.name not in SINCE_RELEASE_1]
    before = {t: rows(path, t) for t in tables}
    had = {t: columns(path, t) for t in tables}
    db = open_db(str(path))
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert {t: rows(path, t, had[t]) for t in tables} == before
    assert shape(db.conn) == shape(open_db(str(tmp_path / "new.db")).conn)
    refresh_statuses(db, [campaign])  # the cache gains what it lacked at the next refresh
    assert {r[0] for r in db.execute("select distinct decisions from submissions")} == {"[]"}
    db.close()


def as_version_8(path: Path) -> dict[str, bytes]:
    """Give a database of this release the shape of schema version 8: every attachment's bytes a
    second time in `blobs`, attachments.sha256 a key to it. Returns the blobs (sha256 -> bytes)."""
    conn = sqlite3.connect(path)
    blobs = {hashlib.sha256(a.data).hexdigest(): a.data for (raw,) in conn.execute("select raw from raw_messages")
             for a in parse_mail(raw).attachments}
    table = conn.execute("select sql from sqlite_master where name = 'attachments'").fetchone()[0]
    keyed = table.replace('"attachments"', '"v8_attachments"').replace(
        '"sha256" TEXT,', '"sha256" TEXT REFERENCES "blobs"("sha256"),')
    with conn:
        conn.execute('CREATE TABLE "blobs" ("sha256" TEXT PRIMARY KEY, "content" BLOB, "size" INTEGER)')
        conn.executemany("insert into blobs values (?, ?, ?)", [(k, v, len(v)) for k, v in blobs.items()])
        conn.execute(keyed)
        conn.execute("insert into v8_attachments select * from attachments order by rowid")
        conn.execute("drop table attachments")
        conn.execute("alter table v8_attachments rename to attachments")
        conn.execute("create index idx_attachments_message on attachments (message)")
    conn.execute("PRAGMA user_version = 8")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file holds it all: its size says how big it is
    conn.close()
    return blobs


def test_a_database_of_schema_8_loses_blobs_shrinks_and_its_files_still_download(tmp_path, campaign, capsys):
    """Version 9 keeps each file once, inside its raw mail: `blobs` is dropped, nothing else changes,
    the file gives the space back, and every file downloads as the blob held it."""
    from tests.test_datasette_staff import get, start

    recording = random.Random(7).randbytes(3 * 2**20)
    big = build_mail(sender="vanthu@snv.example.vn", sender_name="Văn thư", subject="Ghi âm hội nghị",
                     received=datetime(2022, 6, 10, 9, tzinfo=VN), attachments=[("Ghi âm.mp3", recording)])
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "big.eml").write_bytes(big)
    path = tmp_path / "intake.db"
    db = open_db(str(path))
    ingest(db, [str(SAMPLE_INBOX), str(tmp_path / "inbox")], [campaign], workers=1)
    db.close()
    blobs = as_version_8(path)
    assert len(blobs) > 5 and hashlib.sha256(recording).hexdigest() in blobs
    tables = [t.name for t in schema.TABLES]
    before, size = {t: rows(path, t) for t in tables}, path.stat().st_size
    capsys.readouterr()
    db = open_db(str(path))
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert "blobs" not in db.table_names()
    assert {t: rows(path, t) for t in tables} == before
    assert shape(db.conn) == shape(open_db(str(tmp_path / "new.db")).conn)
    db.close()
    note = capsys.readouterr().err.strip().splitlines()
    assert len(note) == 1 and re.fullmatch(r"note: reclaiming \d+ MB freed by migrating the database from schema "
                                           r"version 8 to 9 \(VACUUM.*\)", note[0]), note
    assert path.stat().st_size < size - 0.95 * sum(map(len, blobs.values()))
    ds = start(str(path), env={})
    for ident, digest in rows(path, "attachments", ["id", "sha256"]):
        response = get(ds, "/-/tai-ve/intake/tep", params={"id": ident})
        assert response.status_code == 200 and response.content == blobs[digest], ident
    open_db(str(path)).close()
    assert capsys.readouterr().err == ""  # said once, when it happened


def test_opening_a_current_database_takes_no_write_lock(tmp_path):
    path = tmp_path / "intake.db"
    open_db(str(path)).close()
    writer = sqlite3.connect(path, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # a backup, or another command writing
    try:
        done = threading.Event()
        threading.Thread(target=lambda: (open_db(str(path)).close(), done.set()), daemon=True).start()
        assert done.wait(5)  # not the 30 s busy timeout
    finally:
        writer.rollback()


def test_a_database_of_a_newer_release_is_refused_in_one_line(tmp_path, run_cli):
    path = tmp_path / "intake.db"
    open_db(str(path)).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={schema.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(schema.SchemaError, match="newer intake"):
        open_db(str(path))
    result = run_cli("status", "--db", str(path))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1 and "upgrade intake" in result.output


def test_rows_are_checked_against_the_declared_columns(db):
    with pytest.raises(KeyError, match="flags has no column nope"):
        schema.insert(db.conn, "flags", [{"message": "x", "kind": "k", "nope": 1}])


def test_a_mail_whose_rows_fail_to_write_keeps_its_old_rows(db, campaign):
    from pipeline.derive import derive_rows, write_rows

    raw = sorted(SAMPLE_INBOX.glob("*.eml"))[0].read_bytes()
    ingest(db, [str(sorted(SAMPLE_INBOX.glob("*.eml"))[0])], [campaign], workers=1)
    digest = db.execute("select id from messages").fetchone()[0]
    before = {t: db.execute(f"select count(*) from [{t}]").fetchone()[0] for t in schema.PER_MAIL}
    rows = derive_rows(digest, raw, [campaign], None)
    rows["sections"][-1]["nope"] = 1  # the last write of the mail fails
    with pytest.raises(KeyError):
        write_rows(db, digest, rows)
    assert {t: db.execute(f"select count(*) from [{t}]").fetchone()[0] for t in schema.PER_MAIL} == before


def test_loading_campaigns_again_writes_nothing_and_only_what_changed(db, campaign):
    save_campaigns(db, [campaign])
    units = db.execute("select rowid, * from units order by rowid").fetchall()
    changes = db.conn.total_changes
    save_campaigns(db, [campaign])
    assert db.conn.total_changes == changes  # the same files: not one row written
    renamed = Unit(campaign.units[0].id, "Đảng bộ mới", campaign.units[0].emails)
    save_campaigns(db, [dataclasses.replace(campaign, units=[renamed] + campaign.units[2:])])  # one renamed, one gone
    now = db.execute("select rowid, * from units order by rowid").fetchall()
    assert db.conn.total_changes == changes + 2
    assert now[0][:3] == units[0][:3] and now[0][3] == "Đảng bộ mới" and now[1:] == units[2:]


def test_derivation_never_rewrites_inputs(tmp_path, campaign):
    from pipeline.decide import Ask, decide

    path = tmp_path / "intake.db"
    db = open_db(str(path))
    ingest(db, [str(SAMPLE_INBOX)], [campaign], workers=1)
    decide(db, [campaign], Ask("exempt", "so-y-te", note="Miễn theo công văn"), "vanphong")
    before = {t: rows(path, t) for t in INPUTS}
    assert before["decisions"]
    reprocess(db, [load_campaign(CAMPAIGN_FILE)], workers=1)
    assert {t: rows(path, t) for t in INPUTS} == before
    assert json.loads(db.execute("select outline from campaigns").fetchone()[0])[0]["key"] == "I"

