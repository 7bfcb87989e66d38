"""`intake archive`: a closed round moved out of the live database into a database file of its own.

Everything of the round goes: its mails' raw bytes (their files inside) and where they came from,
their derived rows, its cached statuses, alerts and staff decisions, and its campaign and units
rows. The archive is a whole intake database (same schema), so `intake serve --db ARCHIVE` shows
the round as it was, and the live database stays the size of the rounds still worked on. The rows
are copied and committed first, counted, and only then deleted from the live database, so a
failure at any point loses nothing: at worst the round is in both files.
"""

from __future__ import annotations

import sqlite_utils

from pipeline import schema
from pipeline.store import open_db


class ArchiveError(Exception):
    """The round cannot be archived (not closed, unknown, or the archive file holds it already)."""


# (table, the condition naming the round's rows), parents first. `?` is the campaign id.
_MAILS = "select id from temp.archived_mails"
_ROWS: tuple[tuple[str, str], ...] = (
    ("raw_messages", f"sha256 in ({_MAILS})"),
    ("message_sources", f"sha256 in ({_MAILS})"),
    ("messages", f"id in ({_MAILS})"),
    ("attachments", f"message in ({_MAILS})"),
    ("documents", f"message in ({_MAILS})"),
    ("signatures", f"message in ({_MAILS})"),
    ("sections", f"message in ({_MAILS})"),
    ("flags", f"message in ({_MAILS})"),
    ("submissions", "campaign_id = ?"),
    ("attributions", "campaign_id = ?"),
    ("alerts", "campaign_id = ?"),
    ("decisions", "campaign = ?"),
    ("campaigns", "id = ?"),
    ("units", "campaign_id = ?"),
)


def archive(db: sqlite_utils.Database, campaign_id: str, path: str) -> int:
    """Move round `campaign_id` (closed) from `db` into the database at `path` (created, or one
    holding other archived rounds). Returns how many mails moved."""
    closed = db.execute("select closed from campaigns where id = ?", [campaign_id]).fetchone()
    if closed is None:
        raise ArchiveError(f"no campaign '{campaign_id}' in the database")
    if not closed[0]:
        raise ArchiveError(f"campaign '{campaign_id}' is not closed: mark it `closed: true` in its file first")
    open_db(path).close()  # created, or migrated, to this release's schema
    db.execute("ATTACH DATABASE ? AS archive", [path])
    try:
        if db.execute("select 1 from archive.campaigns where id = ?", [campaign_id]).fetchone():
            raise ArchiveError(f"{path} already holds campaign '{campaign_id}'")
        with db.conn:
            db.conn.execute("BEGIN IMMEDIATE")
            db.conn.execute("CREATE TEMP TABLE archived_mails AS SELECT id FROM main.messages WHERE campaign_id = ?",
                            [campaign_id])
            for name, where in _ROWS:
                columns = ", ".join(f"[{c}]" for c in schema.BY_NAME[name].columns)
                db.conn.execute(f"INSERT OR IGNORE INTO archive.[{name}] ({columns}) SELECT {columns} "
                                f"FROM main.[{name}] WHERE {where}", [campaign_id] * where.count("?"))
        moved, copied = db.execute("select (select count(*) from temp.archived_mails), (select count(*) from "
                                   "archive.messages where id in (select id from temp.archived_mails))").fetchone()
        if copied != moved:
            raise ArchiveError(f"only {copied} of {moved} mails reached {path}; nothing was deleted")
        with db.conn:
            db.conn.execute("BEGIN IMMEDIATE")
            for name, where in reversed(_ROWS):  # children first
                db.conn.execute(f"DELETE FROM main.[{name}] WHERE {where}", [campaign_id] * where.count("?"))
    finally:
        db.execute("DROP TABLE IF EXISTS temp.archived_mails")
        db.execute("DETACH DATABASE archive")
    return moved
