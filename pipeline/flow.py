"""The flow between the edges: sources → raw store → derived rows → statuses."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlite_utils

from pipeline.derive import derive
from pipeline.sources import RawMail, SourceError, iter_mail
from pipeline.store import has_source, save_campaigns, save_raw, save_submissions
from rules.campaign import Campaign
from rules.facts import DocumentFacts, MailFacts
from rules.status import UnitStatus, campaign_status

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    seen: int = 0
    new: int = 0  # raw messages stored for the first time
    known: int = 0  # sources already ingested, or the same bytes from another source
    errors: list[SourceError] = field(default_factory=list)
    processing_errors: int = 0

    def as_json(self) -> dict:
        return {"seen": self.seen, "new": self.new, "known": self.known,
                "errors": [{"source": e.source, "reason": e.reason} for e in self.errors],
                "processing_errors": self.processing_errors}


def ingest(db: sqlite_utils.Database, paths: list[str], campaigns: list[Campaign]) -> IngestReport:
    """Store every mail found under `paths` raw, derive the new ones, then refresh statuses."""
    report = IngestReport()
    save_campaigns(db, campaigns)
    derive_pending(db, campaigns)
    for item in iter_mail(paths):
        if isinstance(item, SourceError):
            report.errors.append(item)
            continue
        report.seen += 1
        if store_and_derive(db, item, campaigns):
            report.new += 1
        else:
            report.known += 1
    report.processing_errors = db.execute(
        "select count(*) from flags where kind = 'processing_error'").fetchone()[0]
    refresh_statuses(db, campaigns)
    return report


def _derive_stored(db: sqlite_utils.Database, campaigns: list[Campaign], condition: str = "",
                   args: tuple = ()) -> int:
    """Derive stored raw mails (those matching `condition`) again, oldest first."""
    rows = db.execute(f"""select r.sha256, min(s.internaldate) from raw_messages r
        left join message_sources s on s.sha256 = r.sha256
        left join messages m on m.id = r.sha256 {condition}
        group by r.sha256 order by r.stored_at, r.sha256""", args).fetchall()
    for digest, internaldate in rows:
        derive(db, digest, campaigns, datetime.fromisoformat(internaldate) if internaldate else None)
    return len(rows)


def derive_pending(db: sqlite_utils.Database, campaigns: list[Campaign]) -> int:
    """Derive raw mails stored by a run that stopped before deriving them."""
    return _derive_stored(db, campaigns, "where m.id is null")


def store_and_derive(db: sqlite_utils.Database, mail: RawMail, campaigns: list[Campaign]) -> bool:
    """Keep the raw bytes first, then derive. Returns False when nothing new was stored."""
    if has_source(db, mail.source):
        return False
    digest, new = save_raw(db, mail.raw, mail.source, mail.internaldate)
    if new:
        derive(db, digest, campaigns, mail.internaldate)
    return new


def reprocess(db: sqlite_utils.Database, campaigns: list[Campaign], campaign_id: str | None = None) -> int:
    """Derive every stored mail again (or those of one campaign, plus those no campaign claimed)."""
    save_campaigns(db, campaigns)
    if campaign_id:
        count = _derive_stored(db, campaigns, "where m.campaign_id = ? or m.campaign_id is null", (campaign_id,))
    else:
        count = _derive_stored(db, campaigns)
    refresh_statuses(db, campaigns)
    return count


def mail_facts(db: sqlite_utils.Database, campaign: Campaign) -> list[MailFacts]:
    """The facts the status rules need, read from the derived rows of one campaign."""
    docs: dict[str, list[DocumentFacts]] = {}
    for row in db.query("select id, message, filename, kind, missing_sections, mentions from documents "
                        "where campaign_id = ? order by id", [campaign.id]):
        docs.setdefault(row["message"], []).append(DocumentFacts(
            row["id"], row["filename"], row["kind"], json.loads(row["missing_sections"] or "[]"),
            json.loads(row["mentions"] or "{}")))
    doc_flags: dict[str, list[str]] = {}
    for row in db.query("select attachment, kind from flags where campaign_id = ? and attachment is not null "
                        "and kind in ('low_confidence', 'extra_section') order by id", [campaign.id]):
        doc_flags.setdefault(row["attachment"], []).append(row["kind"])
    for ds in docs.values():
        for d in ds:
            d.flags = sorted(set(doc_flags.get(d.id, [])))
    facts = []
    for row in db.query("select id, received_at, unit_id, content_key, auto_reply, received_basis from messages "
                        "where campaign_id = ? order by received_at, id", [campaign.id]):
        flags = ["receipt_time_from_date"] if row["received_basis"] == "date" else []
        facts.append(MailFacts(
            row["id"], datetime.fromisoformat(row["received_at"]) if row["received_at"] else None,
            row["unit_id"], row["content_key"] or row["id"], counted=not row["auto_reply"],
            documents=docs.get(row["id"], []), flags=flags))
    return facts


def statuses(db: sqlite_utils.Database, campaign: Campaign, now: datetime | None) -> list[UnitStatus]:
    return campaign_status(campaign, mail_facts(db, campaign), now)


def refresh_statuses(db: sqlite_utils.Database, campaigns: list[Campaign]) -> None:
    """Recompute the cached status table that Datasette shows."""
    now = datetime.now(timezone.utc)
    for campaign in campaigns:
        save_submissions(db, campaign, statuses(db, campaign, now))
