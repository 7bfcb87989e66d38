"""The database's shape, declared once: tables, columns, keys, indexes, full-text search, views.

`ensure()` brings a database to this shape when it is opened: a new file is created at
SCHEMA_VERSION; an older one is migrated version by version (MIGRATIONS), in one write transaction
taken with BEGIN IMMEDIATE, so two commands opening one database at once never both migrate it,
then VACUUMed if that freed much of the file; one already current is only read. Rows are written
through `insert()` and `upsert()`, built from the declarations: a row naming a column its table
does not have is an error, not a silent drift.

Each table has a role. Inputs (raw mail, where it came from, the IMAP checkpoint, the logs of
polls and alerts, staff decisions) are never rewritten by derivation; `derived` tables are
rebuilt per mail from the raw bytes (`intake reprocess`); `campaign` tables mirror the campaign files, written only
where they changed; `cache` holds the computed statuses, the unit each mail counts for, and what
LibreOffice and tesseract made of given bytes.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from rules.vocabulary import NOT_SUBMITTED, TERMS, Status

SCHEMA_VERSION = 9
INPUT, DERIVED, CAMPAIGN, CACHE = "input", "derived", "campaign", "cache"


class SchemaError(Exception):
    """A database this intake cannot use: made by a newer release, or not intake's."""


@dataclass(frozen=True)
class Table:
    name: str
    role: str
    columns: Mapping[str, type]
    pk: str | tuple[str, ...]
    foreign_keys: tuple[tuple[str, str, str], ...] = ()  # (column, other table, other column)
    indexes: tuple[tuple[str, ...], ...] = ()
    # The value rows already there get when a migration adds the column (it is always written after).
    added_defaults: Mapping[str, Any] = field(default_factory=dict)
    fts: tuple[str, ...] = ()  # columns of an FTS5 index kept up to date by triggers
    fts_tokenize: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.pk,) if isinstance(self.pk, str) else self.pk


TABLES: tuple[Table, ...] = (
    Table("raw_messages", INPUT, {"sha256": str, "raw": bytes, "size": int, "stored_at": str}, "sha256"),
    # Where each mail was seen: "file:…", "mbox:…:N", "imap:user@host/folder;UIDVALIDITY=…;UID=…". A file
    # source is known by its bytes: a file rewritten with other bytes under the same name is one more row.
    # gmail_id: Gmail's X-GM-MSGID, one id for a message in every label's folder.
    Table("message_sources", INPUT, {"source": str, "sha256": str, "internaldate": str, "seen_at": str,
                                     "gmail_id": str}, ("source", "sha256"),
          foreign_keys=(("sha256", "raw_messages", "sha256"),), indexes=(("sha256",), ("gmail_id",))),
    # One row per derived mail, written in the same transaction as the rest of its rows: the mail's
    # marker of a whole derivation. `complete` is 1 for those; NULL for a mail derived by an intake
    # of schema version 2 or older, which could stop halfway through a mail and leave this row
    # alone, so such mails are derived again (pipeline/flow.py derive_pending).
    Table("messages", DERIVED, {
        "id": str, "message_id": str, "content_key": str, "subject": str, "from_addr": str,
        "from_name": str, "to_addrs": str, "date_header": str, "received_at": str,
        "received_basis": str, "in_reply_to": str, "auto_reply": int, "campaign_id": str,
        "unit_id": str, "unit_basis": str, "body_text": str, "n_files": int, "derived_at": str,
        "complete": int,
    }, "id", foreign_keys=(("id", "raw_messages", "sha256"),),
        indexes=(("campaign_id", "unit_id"), ("message_id",), ("received_at",))),
    # Every file of a mail, an archive's members included. Its bytes are kept only inside the raw mail,
    # found again by `part` (pipeline/mime.py find_attachment); sha256 tells they are still the same.
    Table("attachments", DERIVED, {
        "id": str, "message": str, "part": str, "filename": str, "content_type": str, "size": int,
        "sha256": str, "origin": str,
    }, "id", foreign_keys=(("message", "messages", "id"),), indexes=(("message",),)),
    Table("documents", DERIVED, {
        "id": str, "message": str, "campaign_id": str, "filename": str, "format": str, "kind": str,
        "issuer": str, "number": str, "doc_date": str, "place": str, "doc_type": str, "summary": str,
        "signer": str, "signer_title": str, "missing_sections": str, "mentions": str, "error": str,
        "text": str, "n_signatures": int, "signature_state": str, "same_as": str,
    }, "id", foreign_keys=(("id", "attachments", "id"), ("message", "messages", "id")),
        indexes=(("message",), ("campaign_id", "kind"))),
    # One row per digital signature of a PDF or .docx, in signing order; NULL means "not checked".
    Table("signatures", DERIVED, {
        "id": str, "document": str, "message": str, "campaign_id": str, "unit_id": str, "position": int,
        "signer": str, "organization": str, "signed_at": str, "issuer": str, "intact": int,
        "modified_after_signing": int, "trusted": int, "valid_at_signing": int, "revocation": str,
        "time_source": str, "modification": str, "location": str, "state": str,
    }, "id", foreign_keys=(("document", "documents", "id"), ("message", "messages", "id")),
        indexes=(("message",), ("document",))),
    Table("sections", DERIVED, {
        "id": str, "document": str, "message": str, "campaign_id": str, "unit_id": str, "key": str,
        "heading": str, "text": str, "text_folded": str, "confidence": float, "position": int, "extra": int,
    }, "id", foreign_keys=(("document", "documents", "id"), ("message", "messages", "id")),
        indexes=(("message",), ("campaign_id", "key"), ("document",)),
        fts=("heading", "text", "text_folded"), fts_tokenize="unicode61 remove_diacritics 2"),
    Table("flags", DERIVED, {
        "id": int, "message": str, "attachment": str, "campaign_id": str, "unit_id": str, "kind": str,
        "detail": str,
    }, "id", foreign_keys=(("message", "messages", "id"),),
        indexes=(("message",), ("kind",), ("attachment",), ("campaign_id", "kind"))),
    # A cache of rules.status.campaign_status(): rewritten whole per campaign, never patched.
    Table("submissions", CACHE, {
        "campaign_id": str, "unit_id": str, "row": int, "status": str, "received_at": str,
        "deadline": str, "missing_attachments": str, "missing_sections": str, "flags": str,
        "report": str, "messages": str, "computed_at": str, "missing_signature": str, "decisions": str,
    }, ("campaign_id", "row"), indexes=(("unit_id",), ("report",))),
    # Which unit each mail of a campaign counts for once staff decisions are applied (basis: how
    # it was found, rules/attribution.py), whether it counts, and the decisions about it. Rewritten
    # with `submissions`, per campaign.
    Table("attributions", CACHE, {"campaign_id": str, "message": str, "unit_id": str, "basis": str,
                                  "counted": int, "decisions": str}, ("campaign_id", "message"),
          indexes=(("unit_id",), ("message",))),
    # What LibreOffice (.doc -> .docx) and tesseract (page image -> hOCR) made of given bytes, and
    # intake's reading of a scanned PDF page ("ocr-page": its runs as JSON), zlib compressed, by
    # extractors/toolcache.py's key (the tool's files, its arguments, the input's sha256): reading
    # the same bytes again, as `intake reprocess` does, does not run them again.
    # Kept across reprocess; `intake reprocess --rerun-tools` empties it.
    Table("tool_outputs", CACHE, {"key": str, "tool": str, "output": bytes, "size": int, "made_at": str}, "key"),
    Table("campaigns", CAMPAIGN, {"id": str, "title": str, "deadline": str, "path": str, "outline": str,
                                  "closed": int, "timezone": str, "attachments": str}, "id",
          added_defaults={"closed": 0}),
    Table("units", CAMPAIGN, {"campaign_id": str, "id": str, "name": str, "emails": str}, ("campaign_id", "id")),
    # Where live IMAP intake stopped, per mailbox: only UIDs above last_uid are fetched while the
    # server's UIDVALIDITY stays the same. Advanced only after the raw bytes are committed.
    Table("imap_sync", INPUT, {"account": str, "folder": str, "uidvalidity": int, "last_uid": int,
                               "updated_at": str}, ("account", "folder")),
    # One row per pass over one folder (quiet passes in a row share a row: `passes` counts them).
    Table("polls", INPUT, {
        "id": int, "started_at": str, "finished_at": str, "account": str, "folder": str,
        "uidvalidity": int, "status": str, "passes": int, "fetched": int, "new": int, "skipped": int,
        "actions": int, "errors": str,
    }, "id", indexes=(("account", "folder", "id"),)),
    # One row per attempt to send one alert to one recipient (outcome sending → sent | failed);
    # pipeline/alerts.py reads it to send each alert once.
    Table("alerts", INPUT, {
        "id": int, "key": str, "kind": str, "campaign_id": str, "unit_id": str, "message": str,
        "recipient": str, "subject": str, "outcome": str, "error": str, "as_of": str,
        "attempted_at": str, "sent_at": str,
    }, "id", indexes=(("key", "recipient"), ("recipient", "attempted_at"), ("unit_id",), ("campaign_id", "unit_id"))),
    # What office staff decided (rules/decisions.py), as they said it: never derived, never
    # rewritten; a decision is withdrawn by a later `undo` naming it in `revokes`.
    Table("decisions", INPUT, {
        "id": int, "campaign": str, "kind": str, "target": str, "value": str, "address": str,
        "revokes": int, "note": str, "by": str, "at": str,
    }, "id", foreign_keys=(("revokes", "decisions", "id"),), indexes=(("campaign",), ("target",))),
)
BY_NAME = {t.name: t for t in TABLES}
# The rows of one mail, children first: the order they are deleted in when it is derived again.
PER_MAIL = ("sections", "signatures", "flags", "documents", "attachments", "messages")

def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def vocabulary_view() -> str:
    """Every code of rules/vocabulary.py with its label (kind, code, label), so SQL (canned queries,
    charts) shows words from the one home of them."""
    rows = [f"select {_quote(kind)} as kind, {_quote(code)} as code, {_quote(label)} as label"
            for kind, terms in TERMS.items() for code, label in terms.items()]
    return "\nunion all ".join(rows)


def label_case(kind: str, expression: str) -> str:
    """SQL giving the label of the code `expression` evaluates to (kind: a key of TERMS)."""
    whens = " ".join(f"when {_quote(code)} then {_quote(label)}" for code, label in TERMS[kind].items())
    return f"case {expression} {whens} else {expression} end"


# What staff see: the cached statuses of the roster's units, with "pending" turning into "missing"
# once the deadline has passed even if nothing was ingested since (SQLite's julianday() understands
# the +07:00 offsets). Submissions nobody could attribute are not a unit's: they are
# unattributed_submissions.
_LIVE_STATUS = f"""case when s.status in ('{NOT_SUBMITTED[0]}', '{NOT_SUBMITTED[1]}')
       then case when julianday('now') < julianday(s.deadline) then '{Status.PENDING}' else '{Status.MISSING}' end
       else s.status end"""
UNIT_STATUS_VIEW = f"""
select s.campaign_id, c.title as campaign_title, s.unit_id, u.name as unit_name, {_LIVE_STATUS} as status,
  {label_case("status", _LIVE_STATUS)} as status_label,
  s.received_at, s.deadline, s.missing_attachments, s.missing_sections, s.flags, s.report, s.missing_signature,
  s.decisions
from submissions s
left join campaigns c on c.id = s.campaign_id
left join units u on u.campaign_id = s.campaign_id and u.id = s.unit_id
where s.unit_id is not null
order by s.campaign_id, s.row
"""

# Submissions no unit could be found for (rules.status.campaign_status lists them with unit None):
# one row per mail, with who sent it.
UNATTRIBUTED_VIEW = """
select s.campaign_id, c.title as campaign_title, s.row, s.status, s.received_at, s.report, s.flags,
  m.id as message, m.from_addr, m.from_name, m.subject
from submissions s
left join campaigns c on c.id = s.campaign_id
left join messages m on m.id = json_extract(s.messages, '$[0]')
where s.unit_id is null
order by s.campaign_id, s.received_at
"""
VIEWS: dict[str, str] = {"vocabulary": vocabulary_view(), "unit_status": UNIT_STATUS_VIEW,
                         "unattributed_submissions": UNATTRIBUTED_VIEW}


# ---- creating and migrating

def ensure(db: sqlite_utils.Database) -> None:
    """Bring `db` to SCHEMA_VERSION. Raises SchemaError for a database made by a newer release."""
    conn = db.conn
    if version(conn) == SCHEMA_VERSION and _views_current(conn):
        return  # the common case: nothing to write, no lock taken
    # A migration may make a table anew that others refer to (_rebuild): as SQLite's recipe for
    # changing a table says, foreign keys are off meanwhile (the rows are all copied, none is lost).
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("BEGIN IMMEDIATE")  # one migrator at a time; the others wait, then find it done
    try:
        found = version(conn)
        _refuse_newer(found)
        free_before = _free_bytes(conn)
        if not has_tables(conn):
            for table in TABLES:
                _create(db, table)
        else:
            for step in range(max(found, 1) + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[step](db)
        _check_shape(conn)
        for name, sql in VIEWS.items():
            if _view_sql(conn, name) != _create_view_sql(name, sql):
                conn.execute(f"DROP VIEW IF EXISTS [{name}]")
                conn.execute(_create_view_sql(name, sql))
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.execute(f"PRAGMA foreign_keys={foreign_keys}")
    if found < SCHEMA_VERSION:
        _reclaim(conn, _free_bytes(conn) - free_before, found)


# A migration that leaves this share of the file free (a table dropped) gives the space back to the disk.
RECLAIM_SHARE = 0.25


def _free_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of the file's free pages: what a VACUUM would give back."""
    return conn.execute("PRAGMA freelist_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]


def _reclaim(conn: sqlite3.Connection, freed: int, found: int) -> None:
    """VACUUM, which cannot run inside the migration's transaction, when the migration from version
    `found` freed `freed` bytes, RECLAIM_SHARE of the file or more; a VACUUM that fails (another
    process writing, no room for its copy) leaves the space free for new rows, said in one line."""
    size = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    if freed <= 0 or freed < RECLAIM_SHARE * size:
        return
    print(f"note: reclaiming {_free_bytes(conn) / 2**20:.0f} MB freed by migrating the database from schema "
          f"version {found} to {SCHEMA_VERSION} (VACUUM: a few minutes for gigabytes)", file=sys.stderr)
    try:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # in WAL mode the file shrinks at the checkpoint
    except sqlite3.OperationalError as exc:
        print(f"note: the space was not reclaimed ({exc}): new rows reuse it; `sqlite3 DB 'VACUUM'` returns it "
              "to the disk", file=sys.stderr)


def check(conn: sqlite3.Connection) -> None:
    """For a command that only reads: raises SchemaError unless the database has this release's shape."""
    _refuse_newer(version(conn))
    _check_shape(conn)


def version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def has_tables(conn: sqlite3.Connection) -> bool:
    """Whether any table of intake's is there (a database not created yet has none)."""
    return bool(_tables(conn) & BY_NAME.keys())


def _refuse_newer(found: int) -> None:
    if found > SCHEMA_VERSION:
        raise SchemaError(f"the database was made by a newer intake (schema version {found}; this one "
                          f"knows up to {SCHEMA_VERSION}): upgrade intake")


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}


def _create_view_sql(name: str, sql: str) -> str:
    return f"CREATE VIEW [{name}] AS {sql.strip()}"


def _view_sql(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("select sql from sqlite_master where type = 'view' and name = ?", [name]).fetchone()
    return row[0] if row else None


def _views_current(conn: sqlite3.Connection) -> bool:
    return all(_view_sql(conn, name) == _create_view_sql(name, sql) for name, sql in VIEWS.items())


def _create(db: sqlite_utils.Database, table: Table) -> None:
    """CREATE TABLE, its indexes and its full-text index, as statements of the open transaction."""
    db.conn.execute(db.create_table_sql(table.name, dict(table.columns), pk=table.pk,
                                        foreign_keys=list(table.foreign_keys)))
    for columns in table.indexes:
        db.conn.execute(f"CREATE INDEX {_index(table, columns)}")
    if table.fts:
        _create_fts(db.conn, table)


def _index(table: Table, columns: tuple[str, ...]) -> str:
    """An index's name and columns, named as sqlite-utils names them."""
    return f"[idx_{table.name}_{'_'.join(columns)}] ON [{table.name}] ({', '.join(f'[{c}]' for c in columns)})"


def _create_fts(conn: sqlite3.Connection, table: Table) -> None:
    """The FTS5 index of `table` and the triggers that keep it current (as sqlite-utils' enable_fts
    makes them, which databases of the first release have)."""
    name, fts = table.name, f"{table.name}_fts"
    cols = ", ".join(f"[{c}]" for c in table.fts)
    old = ", ".join(f"old.[{c}]" for c in table.fts)
    new = ", ".join(f"new.[{c}]" for c in table.fts)
    conn.execute(f"CREATE VIRTUAL TABLE [{fts}] USING FTS5 ({cols}, tokenize='{table.fts_tokenize}', "
                 f"content=[{name}])")
    conn.execute(f"CREATE TRIGGER [{name}_ai] AFTER INSERT ON [{name}] BEGIN "
                 f"INSERT INTO [{fts}] (rowid, {cols}) VALUES (new.rowid, {new}); END")
    conn.execute(f"CREATE TRIGGER [{name}_ad] AFTER DELETE ON [{name}] BEGIN "
                 f"INSERT INTO [{fts}] ([{fts}], rowid, {cols}) VALUES ('delete', old.rowid, {old}); END")
    conn.execute(f"CREATE TRIGGER [{name}_au] AFTER UPDATE ON [{name}] BEGIN "
                 f"INSERT INTO [{fts}] ([{fts}], rowid, {cols}) VALUES ('delete', old.rowid, {old}); "
                 f"INSERT INTO [{fts}] (rowid, {cols}) VALUES (new.rowid, {new}); END")


def _add_missing_columns(db: sqlite_utils.Database) -> None:
    """Every declared column a table lacks, the rows already there given its `added_defaults` value."""
    for table in TABLES:
        have = {r[1] for r in db.conn.execute(f"PRAGMA table_info([{table.name}])")}
        for column, kind in table.columns.items():
            if column not in have:
                sql_type = {str: "TEXT", int: "INTEGER", float: "FLOAT", bytes: "BLOB"}[kind]
                default = table.added_defaults.get(column)
                extra = f" NOT NULL DEFAULT {default!r}" if column in table.added_defaults else ""
                db.conn.execute(f"ALTER TABLE [{table.name}] ADD COLUMN [{column}] {sql_type}{extra}")


def _add_missing_indexes(db: sqlite_utils.Database) -> None:
    for table in TABLES:
        for columns in table.indexes:
            db.conn.execute(f"CREATE INDEX IF NOT EXISTS {_index(table, columns)}")


def _add_missing(db: sqlite_utils.Database) -> None:
    """Every declared table, column and index a database lacks, the rows already there kept."""
    existing = _tables(db.conn)
    for table in TABLES:
        if table.name not in existing:
            _create(db, table)
    _add_missing_columns(db)
    _add_missing_indexes(db)


def _v2(db: sqlite_utils.Database) -> None:
    """From the first release (version 1, which every open wrote whatever the shape): tables,
    columns and indexes added since (campaigns.closed where it was made before `closed: true`
    existed; the campaign's time zone and attachments and the lookups of the staff pages)."""
    _add_missing(db)


def _v3(db: sqlite_utils.Database) -> None:
    """Digital signatures (issue 17): the signatures table; documents' n_signatures, signature_state
    and same_as; submissions.missing_signature. Empty until `intake reprocess` derives the mails again."""
    _add_missing(db)


def _key(conn: sqlite3.Connection, name: str) -> tuple[str, ...]:
    """The primary key columns of table `name`, in key order."""
    info = sorted((r[5], r[1]) for r in conn.execute(f"PRAGMA table_info([{name}])") if r[5])
    return tuple(column for _, column in info)


def _rebuild(db: sqlite_utils.Database, table: Table) -> None:
    """Make `table` anew in its declared shape (SQLite cannot change a key in place), its rows
    copied in their order, as statements of the open transaction."""
    conn, temporary = db.conn, f"_new_{table.name}"
    conn.execute(db.create_table_sql(temporary, dict(table.columns), pk=table.pk,
                                     foreign_keys=list(table.foreign_keys)))
    kept = ", ".join(f"[{r[1]}]" for r in conn.execute(f"PRAGMA table_info([{table.name}])") if r[1] in table.columns)
    conn.execute(f"INSERT INTO [{temporary}] ({kept}) SELECT {kept} FROM [{table.name}] ORDER BY rowid")
    conn.execute(f"DROP TABLE [{table.name}]")
    conn.execute(f"ALTER TABLE [{temporary}] RENAME TO [{table.name}]")
    for columns in table.indexes:
        conn.execute(f"CREATE INDEX {_index(table, columns)}")


def _v4(db: sqlite_utils.Database) -> None:
    """File sources known by their bytes: message_sources keyed by (source, sha256), so a file
    rewritten under the same name is stored as the new mail it is. messages.complete: the mails
    derived before (NULL) are derived again by the next command that writes, since the release
    that wrote them committed a mail's rows in several steps and a crash could leave half."""
    sources = BY_NAME["message_sources"]
    if _key(db.conn, sources.name) != sources.keys:
        _rebuild(db, sources)
    _add_missing_columns(db)


def _v5(db: sqlite_utils.Database) -> None:
    """Staff decisions (issue 16): the `decisions` input, the `attributions` cache,
    submissions.decisions."""
    _add_missing(db)


def _v6(db: sqlite_utils.Database) -> None:
    """message_sources.gmail_id, so a Gmail message stored from one folder is known in the others."""
    _add_missing_columns(db)
    _add_missing_indexes(db)


def _v7(db: sqlite_utils.Database) -> None:
    """Ten years of history (issue 19): the lookups whose cost grew with it (a campaign's flags)."""
    _add_missing_indexes(db)


def _v8(db: sqlite_utils.Database) -> None:
    """tool_outputs: LibreOffice's and tesseract's outputs, kept for reading the same bytes again."""
    _add_missing(db)


def _v9(db: sqlite_utils.Database) -> None:
    """Each attachment kept once (issue 19): the `blobs` table, which held every file a second time
    beside the raw mail it came in, dropped, and the key attachments.sha256 -> blobs with it;
    downloads find the file in its raw mail. ensure() then gives the space back (VACUUM)."""
    attachments = BY_NAME["attachments"]
    if any(key[2] == "blobs" for key in db.conn.execute("PRAGMA foreign_key_list([attachments])")):
        _rebuild(db, attachments)
    db.conn.execute("DROP TABLE IF EXISTS [blobs]")


# Version N's step takes a database from N - 1 to N, inside ensure()'s transaction.
MIGRATIONS: dict[int, Callable[[sqlite_utils.Database], None]] = {2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6, 7: _v7,
                                                                  8: _v8, 9: _v9}


def _check_shape(conn: sqlite3.Connection) -> None:
    existing = _tables(conn)
    for table in TABLES:
        if table.name not in existing:
            raise SchemaError(f"table {table.name} is missing: not a database of intake")
        have = {r[1] for r in conn.execute(f"PRAGMA table_info([{table.name}])")}
        missing = [c for c in table.columns if c not in have]
        if missing:
            raise SchemaError(f"table {table.name} lacks {', '.join(missing)}: not a database of intake")


# ---- writing rows

def bit(value: bool | None) -> int | None:
    """A yes/no/not-checked fact as its INTEGER column holds it: 1, 0 or NULL."""
    return None if value is None else int(value)


def truth(value: int | None) -> bool | None:
    """An INTEGER yes/no/not-checked column read back (NULL stays None: "not checked")."""
    return None if value is None else bool(value)


def select(conn: sqlite3.Connection, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
    """The rows of a query, read by column name, without the dict per row sqlite-utils' query()
    builds (a campaign's facts are thousands of rows)."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, list(params)).fetchall()


def json_list(text: str | None) -> list:
    """A JSON list column read back: [] for NULL, for "[]" (most cells, read without a parse) and
    for anything not a list."""
    value = _json(text) if text and text != "[]" else None
    return value if isinstance(value, list) else []


def json_dict(text: str | None) -> dict:
    """A JSON object column read back: {} for NULL, for "{}" and for anything not an object."""
    value = _json(text) if text and text != "{}" else None
    return value if isinstance(value, dict) else {}


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _values(table: Table, rows: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    """Each row's values in the declared column order; a column the table lacks is a KeyError."""
    values = []
    for row in rows:
        unknown = set(row) - set(table.columns)
        if unknown:
            raise KeyError(f"{table.name} has no column {', '.join(sorted(unknown))}")
        values.append([row.get(c) for c in table.columns])
    return values


def insert(conn: sqlite3.Connection, name: str, rows: Iterable[Mapping[str, Any]], ignore: bool = False) -> int:
    """Insert `rows` into table `name`; a declared column a row leaves out is NULL (or, for an
    integer key, the next number). With `ignore`, a row whose key is taken is skipped. Returns
    how many rows were inserted."""
    table = BY_NAME[name]
    columns = list(table.columns)
    sql = (f"INSERT {'OR IGNORE ' if ignore else ''}INTO [{name}] ({', '.join(f'[{c}]' for c in columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    return conn.executemany(sql, _values(table, rows)).rowcount


def upsert(conn: sqlite3.Connection, name: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert `rows`, or update the row with the same key where a column differs: a row that is
    already as given is not written at all."""
    table = BY_NAME[name]
    columns = list(table.columns)
    others = [c for c in columns if c not in table.keys]
    quoted = ", ".join(f"[{c}]" for c in columns)
    sql = (f"INSERT INTO [{name}] ({quoted}) VALUES ({', '.join('?' for _ in columns)}) "
           f"ON CONFLICT ({', '.join(f'[{k}]' for k in table.keys)}) DO UPDATE SET "
           + ", ".join(f"[{c}] = excluded.[{c}]" for c in others)
           + f" WHERE ({', '.join(f'[{name}].[{c}]' for c in others)}) IS NOT "
             f"({', '.join(f'excluded.[{c}]' for c in others)})")
    conn.executemany(sql, _values(table, rows))
