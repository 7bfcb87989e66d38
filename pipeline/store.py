"""The SQLite database: raw messages first, everything else derived and rebuildable.

The shape is declared in pipeline/schema.py and brought up to date by `open_db()`. One function
here per kind of write; each is one transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import sqlite_utils

from pipeline import schema
from rules.campaign import Campaign
from rules.decisions import Corrected, Decision, paper_decision
from rules.status import UnitStatus


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_db(path: str, busy_timeout: float = 30.0) -> sqlite_utils.Database:
    """The database at `path`, created or migrated to the declared schema, for a command that
    writes: a write waits up to `busy_timeout` seconds for another process's. Raises SchemaError."""
    db = sqlite_utils.Database(path)
    db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")  # first: switching to WAL waits too
    _use_wal(db, busy_timeout)
    db.execute("PRAGMA foreign_keys=ON")
    schema.ensure(db)
    return db


def _use_wal(db: sqlite_utils.Database, busy_timeout: float) -> None:
    """Switch a new database to WAL, once. Two commands creating one database at once both ask to:
    each holds a read lock and wants the other's gone, so SQLite refuses one of them at once, with
    no wait ("database is locked"; 24 of 100 pairs of processes opening a new file together). The
    one refused asks again, and finds the switch made."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # a WAL database needs no switch
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def open_reader(path: str, busy_timeout: float = 30.0) -> sqlite_utils.Database:
    """The database at `path` for a command that only reads (status, alerts without --send):
    read-only, so it never waits on another process's write lock (WAL readers see the last
    commit). Only a database not created yet, or of an older schema, is first created or
    migrated by open_db(), which may wait `busy_timeout` for a command creating it too."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        open_db(path, busy_timeout).close()
    db = _read_only(path)
    if schema.version(db.conn) < schema.SCHEMA_VERSION:
        db.close()
        open_db(path, busy_timeout).close()
        db = _read_only(path)
    schema.check(db.conn)
    return db


def _read_only(path: str) -> sqlite_utils.Database:
    conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)
    return sqlite_utils.Database(conn)


# SQLite's primary result codes (an error's sqlite_errorcode holds the extended one).
_BUSY, _LOCKED, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 11, 13, 14, 26


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_busy(exc: BaseException) -> bool:
    """Another process held the write lock longer than the busy timeout ("database is locked")."""
    return _code(exc) in (_BUSY, _LOCKED)


def is_full(exc: BaseException) -> bool:
    """"database or disk is full": what was being written is rolled back, what was committed stays."""
    return _code(exc) == _FULL


def cannot_open(exc: BaseException) -> bool:
    """The path cannot be opened as a file (no such folder, no permission)."""
    return _code(exc) == _CANTOPEN


def is_malformed(exc: BaseException, path: str) -> bool:
    """The file is damaged: SQLite says so, or an error no sound database of intake's gives (a
    foreign key its writers never break, a table gone) comes from a file whose integrity check
    fails."""
    if _code(exc) in (_CORRUPT, _NOTADB):
        return True
    if not isinstance(exc, sqlite3.DatabaseError) or is_busy(exc) or is_full(exc) or not os.path.exists(path):
        return False
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)
        try:
            return conn.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok"
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return True


def has_source(db: sqlite_utils.Database, source: str, digest: str | None = None) -> bool:
    """Whether `source` was seen, with these bytes (`digest`) when given: a file rewritten under
    the same name is a mail not stored yet."""
    if digest is None:
        return bool(db.execute("select 1 from message_sources where source = ?", [source]).fetchone())
    return bool(db.execute("select 1 from message_sources where source = ? and sha256 = ?",
                           [source, digest]).fetchone())


def _source_row(source: str, digest: str, internaldate: datetime | None) -> dict[str, Any]:
    return {"source": source, "sha256": digest, "seen_at": now_iso(),
            "internaldate": internaldate.isoformat() if internaldate else None}


def _insert_streamed(conn: sqlite3.Connection, table: str, row: dict[str, Any], column: str, content: bytes) -> bool:
    """INSERT OR IGNORE `row` with `content` in `column`, written through SQLite's blob API: bound
    as a parameter, a big value is copied by SQLite once more. True when the row was new."""
    names = ", ".join(f"[{c}]" for c in [*row, column])
    cursor = conn.execute(f"INSERT OR IGNORE INTO [{table}] ({names}) VALUES ({', '.join('?' for _ in row)}, "
                          "zeroblob(?))", [*row.values(), len(content)])
    if cursor.rowcount != 1 or cursor.lastrowid is None:
        return False
    with conn.blobopen(table, column, cursor.lastrowid) as blob:
        blob.write(content)
    return True


def load_raw(conn: sqlite3.Connection, digest: str) -> bytes:
    """A stored mail's bytes, read through SQLite's blob API (one copy, not two)."""
    rowid = conn.execute("select rowid from raw_messages where sha256 = ?", [digest]).fetchone()[0]
    with conn.blobopen("raw_messages", "raw", rowid, readonly=True) as blob:
        return blob.read()


def save_raw(db: sqlite_utils.Database, raw: bytes, source: str, internaldate: datetime | None,
             digest: str | None = None) -> tuple[str, bool]:
    """Store a mail's bytes (once per content) and where it came from. Returns (sha256, new?):
    not new when another process stored the same bytes first, even a moment ago."""
    digest = digest or sha256(raw)
    with db.conn:
        new = _insert_streamed(db.conn, "raw_messages", {"sha256": digest, "size": len(raw), "stored_at": now_iso()},
                               "raw", raw)
        schema.insert(db.conn, "message_sources", [_source_row(source, digest, internaldate)], ignore=True)
    return digest, new


def add_source(db: sqlite_utils.Database, source: str, digest: str, internaldate: datetime | None) -> None:
    """Record one more place an already stored mail was seen, without its bytes."""
    with db.conn:
        schema.insert(db.conn, "message_sources", [_source_row(source, digest, internaldate)], ignore=True)


def replace_derived(db: sqlite_utils.Database, message: str, rows: Mapping[str, Any]) -> None:
    """Replace every derived row of one mail with `rows` ({"message": row, table: [rows]} for the
    other per-mail tables, and optionally "tool_outputs": [rows] of the tool outputs reading it
    made), in one transaction: a crash leaves the old rows or the new ones, never a mix. An
    attachment's bytes are not among them: they stay inside the raw mail. Rows already as given
    are left alone (but for the time they were derived): a reprocess that changes nothing does not
    rewrite the full-text index and every index."""
    with db.conn:
        if _as_stored(db.conn, message, rows):
            db.conn.execute("update messages set derived_at = ?, complete = 1 where id = ?",
                            [rows["message"]["derived_at"], message])
        else:
            for table in schema.PER_MAIL:
                db.conn.execute(f"delete from [{table}] where [{_MAIL_COLUMN[table]}] = ?", [message])
            schema.insert(db.conn, "messages", [{**rows["message"], "complete": 1}])
            for table in reversed(schema.PER_MAIL[:-1]):  # parents before the rows that refer to them
                schema.insert(db.conn, table, rows[table])
        # LibreOffice's and tesseract's new outputs; one another process kept first stays
        schema.insert(db.conn, "tool_outputs", rows.get("tool_outputs", ()), ignore=True)


_MAIL_COLUMN = {table: "id" if table == "messages" else "message" for table in schema.PER_MAIL}
# Not compared: when a mail was derived, whether wholly (always, once written), a flag's row number.
_NOT_COMPARED = {"messages": {"derived_at", "complete"}, "flags": {"id"}}


def _as_stored(conn: sqlite3.Connection, message: str, rows: Mapping[str, Any]) -> bool:
    """Whether the mail's stored rows are `rows`, table by table, in the order they were written
    (a row naming a column its table lacks never is: writing it says so). The small tables are
    compared first: a mail that did change is mostly told by them, before its sections are read."""
    for table in reversed(schema.PER_MAIL):
        declared = schema.BY_NAME[table].columns
        columns = [c for c in declared if c not in _NOT_COMPARED.get(table, ())]
        given = [rows["message"]] if table == "messages" else rows[table]
        if any(column not in declared for row in given for column in row):
            return False
        stored = conn.execute(f"select {', '.join(f'[{c}]' for c in columns)} from [{table}] "
                              f"where [{_MAIL_COLUMN[table]}] = ? order by rowid", [message]).fetchall()
        if stored != [tuple(row.get(c) for c in columns) for row in given]:
            return False
    return True


def save_campaigns(db: sqlite_utils.Database, campaigns: Iterable[Campaign]) -> set[str]:
    """Mirror the loaded campaign files: rows are written only where they changed, and the units
    (and campaigns) no longer in the files removed. Returns the ids of the campaigns whose rows
    changed, new ones included: their cached statuses are out of date."""
    campaigns = list(campaigns)
    changed = set()
    with db.conn:
        for c in campaigns:
            before = db.conn.total_changes
            schema.upsert(db.conn, "campaigns", [{
                "id": c.id, "title": c.title, "deadline": c.deadline.isoformat(), "path": c.path,
                "outline": json.dumps([{"key": n.key, "title": n.title} for n in c.outline], ensure_ascii=False),
                "closed": int(c.closed), "timezone": c.timezone,
                "attachments": json.dumps([{"id": a.id, "title": a.title, "required": a.required}
                                           for a in c.attachments], ensure_ascii=False)}])
            schema.upsert(db.conn, "units", [{"campaign_id": c.id, "id": u.id, "name": u.name,
                                              "emails": ", ".join(u.emails)} for u in c.units])
            keep = {u.id for u in c.units}
            gone = [row for row in db.conn.execute("select campaign_id, id from units where campaign_id = ?", [c.id])
                    if row[1] not in keep]
            db.conn.executemany("delete from units where campaign_id = ? and id = ?", gone)
            if db.conn.total_changes != before:  # an upsert of a row already as given writes nothing
                changed.add(c.id)
        loaded = {c.id for c in campaigns}
        gone = [row for row in db.conn.execute("select id from campaigns") if row[0] not in loaded]
        db.conn.executemany("delete from units where campaign_id = ?", gone)
        db.conn.executemany("delete from campaigns where id = ?", gone)
    return changed


def save_submissions(db: sqlite_utils.Database, campaign: Campaign, statuses: Iterable[UnitStatus],
                     corrected: Corrected) -> None:
    """Replace a campaign's cached statuses, and the unit each of its mails counts for, with freshly
    computed ones. Part of the caller's transaction, which read the facts they come from."""
    computed = now_iso()
    db.conn.execute("delete from submissions where campaign_id = ?", [campaign.id])
    schema.insert(db.conn, "submissions", ({
        "campaign_id": campaign.id, "unit_id": s.unit, "row": n, "status": s.status,
        "received_at": s.received_at.isoformat() if s.received_at else None,
        "deadline": campaign.deadline.isoformat(),
        "missing_attachments": json.dumps(s.missing_attachments),
        "missing_sections": json.dumps(s.missing_sections),
        "flags": json.dumps(s.flags, ensure_ascii=False),
        "report": s.report, "messages": json.dumps(s.messages), "computed_at": computed,
        "missing_signature": s.missing_signature, "decisions": json.dumps(s.decisions),
    } for n, s in enumerate(statuses)))
    db.conn.execute("delete from attributions where campaign_id = ?", [campaign.id])
    schema.insert(db.conn, "attributions", ({
        "campaign_id": campaign.id, "message": m.id, "unit_id": m.unit, "basis": m.unit_basis,
        "counted": int(m.counted), "decisions": json.dumps(corrected.by_mail.get(m.id, [])),
    } for m in corrected.mails if paper_decision(m.id) is None))


def load_decisions(db: sqlite_utils.Database | sqlite3.Connection) -> list[Decision]:
    """Every staff decision, oldest first (from a database or a plain connection: the staff pages
    read on Datasette's)."""
    return [Decision(*row) for row in db.execute(
        "select id, campaign, kind, target, value, note, [by], at, address, revokes from decisions order by id")]
