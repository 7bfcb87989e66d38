"""The flow between the edges: sources → raw store → derived rows → statuses."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlite_utils

from extractors.model import OTHER_KIND, FlagKind
from pipeline.derive import CAMPAIGN_THRESHOLD, Derived
from pipeline.schema import json_dict, json_list, select, truth
from pipeline.sources import Arrival, KnownMail, PassEnd, RawMail, SourceError, iter_mail
from pipeline.store import (
    add_source,
    has_source,
    load_decisions,
    now_iso,
    save_campaigns,
    save_raw,
    save_submissions,
    sha256,
)
from pipeline.tool_outputs import OutputsInUse
from pipeline.workers import DeriveJob, OnWritten, default_workers, derive_in_order
from rules.attribution import MailSignals, campaign_score
from rules.campaign import Campaign
from rules.decisions import Decision, correct, reach
from rules.facts import DocumentFacts, MailFacts, SignatureFacts
from rules.status import UnitStatus, campaign_status, corrected_status
from rules.vocabulary import MailFlag

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


def ingest(db: sqlite_utils.Database, paths: list[str], campaigns: list[Campaign],
           workers: int | None = None, on_written: OnWritten | None = None,
           report: IngestReport | None = None) -> IngestReport:
    """Store every mail found under `paths` raw, derive the new ones, then refresh statuses.
    First, derive again what a run before left underived or half derived (derive_pending).

    `workers` processes derive mails in parallel (default: one per usable CPU); rows are still
    written in source order, one transaction per mail. `report`, when given, is filled in as
    mails are stored, so a caller whose run stops on an error still knows how far it got."""
    report = report if report is not None else IngestReport()
    workers = workers or default_workers()
    touched = Touched(save_campaigns(db, campaigns))
    derive_pending(db, campaigns, workers, touched=touched)
    derive_in_order(db, store_arrivals(db, iter_mail(paths), report), campaigns, workers,
                    touched.also(on_written))
    report.processing_errors = db.execute(
        "select count(*) from flags where kind = ?", [MailFlag.PROCESSING_ERROR]).fetchone()[0]
    refresh_statuses(db, campaigns, touched.campaigns(db, campaigns))
    return report


class Touched:
    """The campaigns whose cached statuses may have changed: those whose file changed, and for every
    mail derived meanwhile the campaign it is in now, the one it was in before, and those whose
    staff decisions are about it or its files. A refresh recomputes only these, so its cost is
    that of the new mails' campaigns, not of the whole history."""

    def __init__(self, campaign_ids: Iterable[str] = ()):
        self._campaigns: set[str | None] = set(campaign_ids)
        self.mails: set[str] = set()

    def add(self, mail: str, campaign_id: str | None) -> None:
        self.mails.add(mail)
        self._campaigns.add(campaign_id)

    def written(self, job: DeriveJob, derived: Derived, seconds: float) -> None:
        self.add(job.digest, derived.campaign)

    def also(self, on_written: OnWritten | None) -> OnWritten:
        """An OnWritten that records the mail here, then tells `on_written`."""
        def both(job: DeriveJob, derived: Derived, seconds: float) -> None:
            self.written(job, derived, seconds)
            if on_written:
                on_written(job, derived, seconds)
        return both

    def campaigns(self, db: sqlite_utils.Database, campaigns: list[Campaign]) -> set[str]:
        """The ids of the campaigns to recompute."""
        decisions = load_decisions(db) if self.mails else []
        reached = set()
        for campaign in campaigns:
            mails, files = reach(campaign, decisions)
            # An attachment's id is "<its mail's id>:<part>".
            if mails & self.mails or any(f.split(":", 1)[0] in self.mails for f in files):
                reached.add(campaign.id)
        return {c for c in self._campaigns if c is not None} | reached


# Called at the end of each folder of a live source's pass: (what the source said, the counts of
# the mails stored in that folder: new and already stored).
OnPassEnd = Callable[[PassEnd, int, int], None]


def store_arrivals(db: sqlite_utils.Database, arrivals: Iterable[Arrival], report: IngestReport,
                   on_pass_end: OnPassEnd | None = None) -> Iterator[DeriveJob]:
    """Commit each new mail's raw bytes (before anything parses them: a crash after this point is
    repaired by derive_pending), then move its source's checkpoint, then hand it on to be derived.
    Lazy, so only the mails in flight are in memory. The one path from every source to the
    database: files (`ingest`) and live sources (`poll`) alike."""
    new_before = known_before = 0
    for item in arrivals:
        if isinstance(item, SourceError):
            report.errors.append(item)
            continue
        if isinstance(item, PassEnd):
            if on_pass_end:
                on_pass_end(item, report.new - new_before, report.known - known_before)
            new_before, known_before = report.new, report.known
            continue
        job = None
        if isinstance(item, RawMail):
            report.seen += 1
            digest = sha256(item.raw)
            # Known by its bytes, not only its name: a file rewritten in place is a new mail.
            if has_source(db, item.source, digest):
                report.known += 1
            else:
                digest, new = save_raw(db, item.raw, item.source, item.internaldate, digest)
                if new:
                    report.new += 1
                    job = DeriveJob(digest, item.raw, item.internaldate, item.source)
                else:
                    report.known += 1
        elif isinstance(item, KnownMail):
            report.seen += 1
            report.known += 1
            if item.digest:
                add_source(db, item.source, item.digest, item.internaldate)
        if item.checkpoint:
            item.checkpoint.commit(db)
        del item  # while the job is derived, only it holds the bytes
        if job:
            yield job


# Mails whose derivation is missing (stored by a run that stopped before deriving them) or not known
# to be whole (derived by an intake that wrote a mail's rows in several steps: messages.complete).
_UNDERIVED = "m.id is null or m.complete is null"


def _derive_stored(db: sqlite_utils.Database, campaigns: list[Campaign], touched: Touched, condition: str = "",
                   args: tuple = (), workers: int = 1, on_written: OnWritten | None = None,
                   on_total: Callable[[int], None] | None = None, stop: Callable[[], bool] | None = None) -> int:
    """Derive stored raw mails (those matching `condition`) again, oldest first, each recorded in
    `touched` with the campaign it was in; `on_total` is told how many first. `stop` is asked
    before each mail is handed on."""
    rows = db.execute(f"""select r.sha256, min(s.internaldate), min(s.source), m.campaign_id from raw_messages r
        left join message_sources s on s.sha256 = r.sha256
        left join messages m on m.id = r.sha256 {condition}
        group by r.sha256 order by r.stored_at, r.sha256""", args).fetchall()
    if on_total:
        on_total(len(rows))

    def jobs() -> Iterator[DeriveJob]:
        for digest, internaldate, source, campaign_id in rows:  # the bytes are read where the mail is derived
            if stop and stop():
                return
            touched.add(digest, campaign_id)
            yield DeriveJob(digest, None, datetime.fromisoformat(internaldate) if internaldate else None, source)
    return derive_in_order(db, jobs(), campaigns, workers, touched.also(on_written))


def derive_pending(db: sqlite_utils.Database, campaigns: list[Campaign], workers: int = 1,
                   stop: Callable[[], bool] | None = None, touched: Touched | None = None) -> int:
    """Derive the raw mails whose derivation is missing or incomplete: stored by a run that
    stopped before deriving them, or derived by an older intake that could stop halfway through
    a mail. Every command that writes calls it first. Returns how many; `touched`, when given,
    learns which mails and campaigns."""
    return _derive_stored(db, campaigns, touched or Touched(), f"where {_UNDERIVED}", workers=workers, stop=stop)


def reprocess(db: sqlite_utils.Database, campaigns: list[Campaign], campaign_id: str | None = None,
              workers: int | None = None, on_written: OnWritten | None = None,
              on_total: Callable[[int], None] | None = None) -> int:
    """Derive every stored mail again (or those of one campaign, those no campaign claimed that it
    might (_claimable), and those whose derivation is missing or incomplete). Each mail's rows are
    replaced in place, in one transaction, so commands running meanwhile read the old rows or the
    new, never none. A reprocess of every mail then drops the kept tool outputs none of them used."""
    touched = Touched(save_campaigns(db, campaigns) | ({campaign_id} if campaign_id else {c.id for c in campaigns}))
    workers = workers or default_workers()
    condition: str = ""
    args: tuple = ()
    in_use: OutputsInUse | None = None
    if campaign_id:
        campaign = {c.id: c for c in campaigns}[campaign_id]
        condition = f"where m.campaign_id = ? or m.id in (select value from json_each(?)) or {_UNDERIVED}"
        args = (campaign_id, json.dumps(_claimable(db, campaign)))
    else:
        in_use = OutputsInUse(db.conn, now_iso())

    def written(job: DeriveJob, derived: Derived, seconds: float) -> None:
        if in_use is not None:
            in_use.add(derived.outputs)
        if on_written:
            on_written(job, derived, seconds)

    count = _derive_stored(db, campaigns, touched, condition, args, workers, written, on_total)
    if in_use is not None:
        log.info("%d kept tool outputs no mail uses any more dropped", in_use.drop_unused())
    refresh_statuses(db, campaigns, touched.campaigns(db, campaigns))
    return count


def _claimable(db: sqlite_utils.Database, campaign: Campaign) -> list[str]:
    """The stored mails no campaign claimed that `campaign` might, once derived again: those with
    files (any may be its report), replies (its call letter may be in their thread), those whose
    derivation failed, and those whose subject or text names it. Not the rest: ten years of
    unrelated mail would be read again with every round."""
    rows = db.execute("""select id, subject, body_text, n_files, in_reply_to, auto_reply from messages
        where campaign_id is null""").fetchall()
    failed = {r[0] for r in db.execute("select message from flags where kind = ? and campaign_id is null",
                                       [MailFlag.PROCESSING_ERROR])}
    return [mail for mail, subject, body, n_files, in_reply_to, auto_reply in rows
            if n_files or in_reply_to or mail in failed
            or campaign_score(campaign, MailSignals(subject or "", body or "", None, [], [], bool(auto_reply)),
                              []) >= CAMPAIGN_THRESHOLD]


def _marks(values: Iterable[str]) -> str:
    return ", ".join("?" for _ in values)


def _of_campaign(table: str, column: str, extra: list[str]) -> str:
    """The condition for the rows of `table` in the campaign (its id the first argument) or whose
    `column` is one of `extra`: each side by its own index, where as one "or" SQLite would scan the
    whole table, which grows with every year kept."""
    if not extra:
        return "campaign_id = ?"
    return (f"id in (select id from {table} where campaign_id = ? "
            f"union select id from {table} where {column} in ({_marks(extra)}))")


def mail_facts(db: sqlite_utils.Database, campaign: Campaign, decisions: Iterable[Decision] = ()) -> list[MailFacts]:
    """The facts the status rules need, read from the derived rows of one campaign, with the mails
    and files its staff decisions are about where intake placed them elsewhere (a mail in another
    campaign or in none, a file it read no document from)."""
    extra_mails, extra_files = (sorted(found) for found in reach(campaign, decisions))
    mails_of = _of_campaign("messages", "id", extra_mails)
    documents_of = _of_campaign("documents", "message", extra_mails)
    signatures: dict[str, list[SignatureFacts]] = {}
    for row in select(db.conn, "select document, intact, modified_after_signing from signatures where document in "
                      f"(select id from documents where {documents_of}) order by document, position",
                      [campaign.id, *extra_mails]):
        signatures.setdefault(row["document"], []).append(SignatureFacts(
            truth(row["intact"]), truth(row["modified_after_signing"])))
    docs: dict[str, list[DocumentFacts]] = {}
    for row in select(db.conn, "select id, message, filename, kind, missing_sections, mentions, format, same_as "
                      f"from documents where {documents_of} order by id", [campaign.id, *extra_mails]):
        docs.setdefault(row["message"], []).append(DocumentFacts(
            row["id"], row["filename"], row["kind"], json_list(row["missing_sections"]),
            json_dict(row["mentions"]), format=row["format"] or "", same_as=row["same_as"],
            signatures=signatures.get(row["id"], [])))
    for row in select(db.conn, "select a.id, a.message, a.filename from attachments a "
                      f"left join documents d on d.id = a.id where a.id in ({_marks(extra_files)}) and d.id is null "
                      "order by a.id", extra_files):
        docs.setdefault(row["message"], []).append(DocumentFacts(row["id"], row["filename"], OTHER_KIND))
    doc_flags: dict[str, list[str]] = {}
    for row in select(db.conn, "select attachment, kind from flags where campaign_id = ? and attachment is not null "
                      "and kind in (?, ?) order by id",
                      [campaign.id, FlagKind.LOW_CONFIDENCE, FlagKind.EXTRA_SECTION]):
        doc_flags.setdefault(row["attachment"], []).append(row["kind"])
    for ds in docs.values():
        for d in ds:
            d.flags = sorted(set(doc_flags.get(d.id, [])))
    facts = []
    for row in select(db.conn, "select id, received_at, unit_id, content_key, auto_reply, received_basis, from_addr, "
                      f"unit_basis from messages where {mails_of} order by received_at, id",
                      [campaign.id, *extra_mails]):
        flags: list[str] = [MailFlag.RECEIPT_TIME_FROM_DATE] if row["received_basis"] == "date" else []
        facts.append(MailFacts(
            row["id"], datetime.fromisoformat(row["received_at"]) if row["received_at"] else None,
            row["unit_id"], row["content_key"] or row["id"], counted=not row["auto_reply"],
            documents=docs.get(row["id"], []), flags=flags, sender=row["from_addr"], unit_basis=row["unit_basis"]))
    return facts


def statuses(db: sqlite_utils.Database, campaign: Campaign, now: datetime | None) -> list[UnitStatus]:
    """Every unit's status as of `now`, computed from the stored facts and the staff decisions."""
    decisions = load_decisions(db)
    return campaign_status(campaign, mail_facts(db, campaign, decisions), now, decisions)


def recompute(db: sqlite_utils.Database, campaign: Campaign, now: datetime) -> None:
    """Rewrite the campaign's cached statuses and attributions from the facts and decisions as they
    are now. Inside the caller's write transaction, so that what it read is what it writes: a
    decision or a mail committed meanwhile waits for it, and is never left out of the cache."""
    decisions = load_decisions(db)
    corrected = correct(campaign, mail_facts(db, campaign, decisions), decisions)
    save_submissions(db, campaign, corrected_status(campaign, corrected, now), corrected)


def refresh_statuses(db: sqlite_utils.Database, campaigns: list[Campaign],
                     touched: Collection[str] | None = None) -> None:
    """Recompute the cached statuses that Datasette shows, one write transaction per campaign: of
    the campaigns named in `touched` (Touched.campaigns), by default of every campaign not closed
    (a closed campaign's statuses change only when a mail or its file does)."""
    now = datetime.now(timezone.utc)
    for campaign in campaigns:
        if (campaign.closed if touched is None else campaign.id not in touched):
            continue
        with db.conn:
            db.conn.execute("BEGIN IMMEDIATE")
            recompute(db, campaign, now)
