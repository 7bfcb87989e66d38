"""The SQLite database: raw messages first, everything else derived and rebuildable.

`ensure_db_shape()` is the one place that creates and migrates the schema (tables, foreign keys,
full-text search, views). One `save_*` function per entity.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import sqlite_utils

from rules.vocabulary import NOT_SUBMITTED, TERMS, Status

SCHEMA_VERSION = 1

# Derived tables, in the order their rows must be deleted when a mail is derived again.
DERIVED = ("sections", "flags", "documents", "attachments", "messages")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_db(path: str) -> sqlite_utils.Database:
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL waits for other processes too
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    ensure_db_shape(db)
    return db


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Create every table, index, full-text index and view that is missing."""
    tables = set(db.table_names())
    if "raw_messages" not in tables:
        db["raw_messages"].create({"sha256": str, "raw": bytes, "size": int, "stored_at": str}, pk="sha256")
    if "message_sources" not in tables:
        db["message_sources"].create(
            {"source": str, "sha256": str, "internaldate": str, "seen_at": str},
            pk="source", foreign_keys=[("sha256", "raw_messages", "sha256")])
        db["message_sources"].create_index(["sha256"])
    if "blobs" not in tables:
        db["blobs"].create({"sha256": str, "content": bytes, "size": int}, pk="sha256")
    if "messages" not in tables:
        db["messages"].create({
            "id": str, "message_id": str, "content_key": str, "subject": str, "from_addr": str,
            "from_name": str, "to_addrs": str, "date_header": str, "received_at": str,
            "received_basis": str, "in_reply_to": str, "auto_reply": int, "campaign_id": str,
            "unit_id": str, "unit_basis": str, "body_text": str, "n_files": int, "derived_at": str,
        }, pk="id", foreign_keys=[("id", "raw_messages", "sha256")])
        for cols in (["campaign_id", "unit_id"], ["message_id"], ["received_at"]):
            db["messages"].create_index(cols)
    if "attachments" not in tables:
        db["attachments"].create({
            "id": str, "message": str, "part": str, "filename": str, "content_type": str, "size": int,
            "sha256": str, "origin": str,
        }, pk="id", foreign_keys=[("message", "messages", "id"), ("sha256", "blobs", "sha256")])
        db["attachments"].create_index(["message"])
    if "documents" not in tables:
        db["documents"].create({
            "id": str, "message": str, "campaign_id": str, "filename": str, "format": str, "kind": str,
            "issuer": str, "number": str, "doc_date": str, "place": str, "doc_type": str, "summary": str,
            "signer": str, "signer_title": str, "missing_sections": str, "mentions": str, "error": str,
            "text": str,
        }, pk="id", foreign_keys=[("id", "attachments", "id"), ("message", "messages", "id")])
        db["documents"].create_index(["message"])
        db["documents"].create_index(["campaign_id", "kind"])
    if "sections" not in tables:
        db["sections"].create({
            "id": str, "document": str, "message": str, "campaign_id": str, "unit_id": str, "key": str,
            "heading": str, "text": str, "text_folded": str, "confidence": float, "position": int, "extra": int,
        }, pk="id", foreign_keys=[("document", "documents", "id"), ("message", "messages", "id")])
        db["sections"].create_index(["message"])
        db["sections"].create_index(["campaign_id", "key"])
        db["sections"].enable_fts(["heading", "text", "text_folded"], create_triggers=True,
                                  tokenize="unicode61 remove_diacritics 2")
    if "flags" not in tables:
        db["flags"].create({
            "id": int, "message": str, "attachment": str, "campaign_id": str, "unit_id": str, "kind": str,
            "detail": str,
        }, pk="id", foreign_keys=[("message", "messages", "id")])
        db["flags"].create_index(["message"])
        db["flags"].create_index(["kind"])
    if "submissions" not in tables:
        # A cache of rules.status.campaign_status(): rewritten whole, never patched.
        db["submissions"].create({
            "campaign_id": str, "unit_id": str, "row": int, "status": str, "received_at": str,
            "deadline": str, "missing_attachments": str, "missing_sections": str, "flags": str,
            "report": str, "messages": str, "computed_at": str,
        }, pk=("campaign_id", "row"))
    if "campaigns" not in tables:
        db["campaigns"].create({"id": str, "title": str, "deadline": str, "path": str, "outline": str,
                                "closed": int, "timezone": str, "attachments": str}, pk="id")
    else:
        columns = db["campaigns"].columns_dict
        if "closed" not in columns:  # databases made before `closed: true` existed
            db["campaigns"].add_column("closed", int, not_null_default=0)
        for name in ("timezone", "attachments"):  # before the staff pages (dates, titles of attachments)
            if name not in columns:
                db["campaigns"].add_column(name, str)
    if "units" not in tables:
        db["units"].create({"campaign_id": str, "id": str, "name": str, "emails": str},
                           pk=("campaign_id", "id"))
    if "imap_sync" not in tables:
        # Where live IMAP intake stopped, per mailbox: only UIDs above last_uid are fetched while the
        # server's UIDVALIDITY stays the same. Advanced only after the raw bytes are committed.
        db["imap_sync"].create({"account": str, "folder": str, "uidvalidity": int, "last_uid": int,
                                "updated_at": str}, pk=("account", "folder"))
    if "polls" not in tables:
        # One row per pass over one folder (quiet passes in a row share a row: `passes` counts them).
        db["polls"].create({
            "id": int, "started_at": str, "finished_at": str, "account": str, "folder": str,
            "uidvalidity": int, "status": str, "passes": int, "fetched": int, "new": int, "skipped": int,
            "actions": int, "errors": str,
        }, pk="id")
        db["polls"].create_index(["account", "folder", "id"])
    if "alerts" not in tables:
        # A log, not derived: one row per attempt to send one alert to one recipient
        # (outcome sending → sent | failed). pipeline/alerts.py reads it to send each alert once.
        db["alerts"].create({
            "id": int, "key": str, "kind": str, "campaign_id": str, "unit_id": str, "message": str,
            "recipient": str, "subject": str, "outcome": str, "error": str, "as_of": str,
            "attempted_at": str, "sent_at": str,
        }, pk="id")
        db["alerts"].create_index(["key", "recipient"])
        db["alerts"].create_index(["recipient", "attempted_at"])
    # What the staff pages look up: a unit's statuses, the current report's sections, a unit's
    # alerts, a document's flags.
    for table, cols in (("submissions", ["unit_id"]), ("submissions", ["report"]), ("alerts", ["unit_id"]),
                        ("alerts", ["campaign_id", "unit_id"]), ("sections", ["document"]),
                        ("flags", ["attachment"])):
        db[table].create_index(cols, if_not_exists=True)
    # Views are cheap to replace, so every start brings them up to date.
    db.create_view("vocabulary", vocabulary_view(), replace=True)
    db.create_view("unit_status", UNIT_STATUS_VIEW, replace=True)
    db.create_view("unattributed_submissions", UNATTRIBUTED_VIEW, replace=True)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


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
  s.received_at, s.deadline, s.missing_attachments, s.missing_sections, s.flags, s.report
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


def has_source(db: sqlite_utils.Database, source: str) -> bool:
    return bool(db.execute("select 1 from message_sources where source = ?", [source]).fetchone())


def save_raw(db: sqlite_utils.Database, raw: bytes, source: str, internaldate: datetime | None) -> tuple[str, bool]:
    """Store a mail's bytes (once per content) and where it came from. Returns (sha256, new?)."""
    digest = sha256(raw)
    with db.conn:
        new = not db.execute("select 1 from raw_messages where sha256 = ?", [digest]).fetchone()
        if new:
            db["raw_messages"].insert({"sha256": digest, "raw": raw, "size": len(raw), "stored_at": now_iso()})
        db["message_sources"].insert({
            "source": source, "sha256": digest, "seen_at": now_iso(),
            "internaldate": internaldate.isoformat() if internaldate else None,
        }, ignore=True)
    return digest, new


def add_source(db: sqlite_utils.Database, source: str, digest: str, internaldate: datetime | None) -> None:
    """Record one more place an already stored mail was seen, without its bytes."""
    with db.conn:
        db["message_sources"].insert({
            "source": source, "sha256": digest, "seen_at": now_iso(),
            "internaldate": internaldate.isoformat() if internaldate else None,
        }, ignore=True)


def save_blob(db: sqlite_utils.Database, data: bytes) -> str:
    digest = sha256(data)
    db["blobs"].insert({"sha256": digest, "content": data, "size": len(data)}, ignore=True)
    return digest


def delete_derived(db: sqlite_utils.Database, message: str) -> None:
    for table in DERIVED:
        column = "id" if table == "messages" else "message"
        db.execute(f"delete from [{table}] where [{column}] = ?", [message])


def save_campaigns(db: sqlite_utils.Database, campaigns) -> None:
    with db.conn:
        db.execute("delete from units")
        db.execute("delete from campaigns")
        for c in campaigns:
            db["campaigns"].insert({
                "id": c.id, "title": c.title, "deadline": c.deadline.isoformat(), "path": c.path,
                "outline": json.dumps([{"key": n.key, "title": n.title} for n in c.outline], ensure_ascii=False),
                "closed": int(c.closed), "timezone": c.timezone,
                "attachments": json.dumps([{"id": a.id, "title": a.title, "required": a.required}
                                           for a in c.attachments], ensure_ascii=False),
            })
            db["units"].insert_all({"campaign_id": c.id, "id": u.id, "name": u.name,
                                    "emails": ", ".join(u.emails)} for u in c.units)


def save_submissions(db: sqlite_utils.Database, campaign, statuses) -> None:
    """Replace a campaign's cached statuses with freshly computed ones."""
    computed = now_iso()
    with db.conn:
        db.execute("delete from submissions where campaign_id = ?", [campaign.id])
        db["submissions"].insert_all({
            "campaign_id": campaign.id, "unit_id": s.unit, "row": n, "status": s.status,
            "received_at": s.received_at.isoformat() if s.received_at else None,
            "deadline": campaign.deadline.isoformat(),
            "missing_attachments": json.dumps(s.missing_attachments),
            "missing_sections": json.dumps(s.missing_sections),
            "flags": json.dumps(s.flags, ensure_ascii=False),
            "report": s.report, "messages": json.dumps(s.messages), "computed_at": computed,
        } for n, s in enumerate(statuses))
