"""Staff decisions written: the one module that writes them, for `intake decide` and for the staff
pages of `intake serve` alike (rules/decisions.py says what they mean).

A decision is checked against what exists (the mail, the file, the unit on the campaign's roster,
the kind), written with who made it and when, and the cached statuses of the campaigns it touches
are computed again, all in one write transaction: what is refused writes nothing, and what is
written is in the statuses staff see next. `record()` does it on a connection of its own, opened
for the one decision (with open_db's busy timeout, since `intake poll` or `ingest` may be writing),
never on Datasette's read-only ones.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlite_utils

from pipeline import schema
from pipeline.flow import recompute
from pipeline.store import load_decisions, now_iso, open_db
from rules.campaign import Campaign, load_campaigns
from rules.decisions import MAIL_KINDS, UNIT_KINDS, Decision, Roster, paper_moment, review, standings
from rules.vocabulary import DecisionKind, DecisionState

MIN_PREFIX = 8  # characters of a mail's id that may stand for it


class DecisionError(Exception):
    """A decision that cannot be made: str() says why in one line for the command line, `words`
    in Vietnamese for the staff pages."""

    def __init__(self, message: str, words: str) -> None:
        super().__init__(message)
        self.words = words


@dataclass
class Ask:
    """A decision as someone asked for it: the target as typed (a mail's id, prefix or Message-ID;
    an attachment's id; a unit's id; a decision's number for undo)."""

    kind: str
    target: str
    value: str | None = None
    campaign: str | None = None  # default: the mail's campaign, else the only one loaded
    note: str | None = None
    remember: bool = False  # assign: remember the sender's address for the unit


def resolve_mail(db: sqlite_utils.Database, text: str) -> tuple[str, str | None]:
    """(mail id, its campaign) for a mail's id, an unambiguous prefix of it (MIN_PREFIX characters
    or more) or its Message-ID (the deliveries of one mail share it: the first is taken)."""
    text = text.strip()
    found = db.execute("select id, campaign_id from messages where id = ?", [text]).fetchall()
    if not found and len(text) >= MIN_PREFIX:
        pattern = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = db.execute("select id, campaign_id from messages where id like ? escape '\\' limit 2",
                           [pattern]).fetchall()
        if len(found) > 1:
            raise DecisionError(f"mail id prefix {text!r} is ambiguous: give more characters",
                                f"Mã thư «{text}» trùng với nhiều thư: cần ghi dài hơn")
    if not found:
        by_id = db.execute("select id, campaign_id, content_key from messages where message_id = ? "
                           "order by received_at, id", [text.strip("<>")]).fetchall()
        if len({row[2] for row in by_id}) > 1:
            raise DecisionError(f"Message-ID {text!r} names different mails: give the mail's id",
                                f"Message-ID «{text}» ứng với nhiều thư khác nhau")
        found = by_id[:1]
    if not found:
        hint = "" if len(text) >= MIN_PREFIX else f" (give at least {MIN_PREFIX} characters of its id)"
        raise DecisionError(f"unknown mail {text!r}{hint}", f"Không có thư «{text}»")
    return found[0][0], found[0][1]


def _campaign(campaigns: Sequence[Campaign], wanted: str | None) -> Campaign:
    if wanted:
        found = next((c for c in campaigns if c.id == wanted), None)
        if found is None:
            raise DecisionError(f"no campaign {wanted!r}; loaded: {', '.join(c.id for c in campaigns)}",
                                f"Không có đợt báo cáo «{wanted}»")
        return found
    if len(campaigns) > 1:
        raise DecisionError(f"several campaigns are loaded ({', '.join(c.id for c in campaigns)}): "
                            "choose one with --campaign ID", "Cần chọn đợt báo cáo")
    return campaigns[0]


def _unit(campaign: Campaign, unit: str | None) -> str:
    if not unit or campaign.unit(unit) is None:
        raise DecisionError(f"unknown unit {unit!r} in campaign {campaign.id}",
                            f"Không có đơn vị «{unit or ''}» trong đợt báo cáo này")
    return unit


def _remembered_address(db: sqlite_utils.Database, campaign: Campaign, mail: str) -> str:
    """The mail's sender, unless it is an address intake must never take for one unit's."""
    (address,) = db.execute("select lower(from_addr) from messages where id = ?", [mail]).fetchone()
    if not address:
        raise DecisionError("the mail has no sender address to remember", "Thư không có địa chỉ người gửi để ghi nhớ")
    owner = next((u for u in campaign.units if address in u.emails), None)
    if owner is not None:
        raise DecisionError(f"{address} is {owner.id}'s address in the campaign file: nothing to remember",
                            f"Địa chỉ {address} đã là địa chỉ của {owner.name} trong danh sách đơn vị")
    if address in campaign.staff:
        raise DecisionError(f"{address} is a staff address of the campaign: it cannot stand for one unit",
                            f"Địa chỉ {address} là địa chỉ của văn phòng, không ghi nhớ cho một đơn vị")
    return address


def _undo(db: sqlite_utils.Database, ask: Ask, by: str) -> tuple[dict, Decision]:
    decisions = load_decisions(db)
    number = ask.target.strip().lstrip("#")
    withdrawn = next((d for d in decisions if number.isdigit() and d.id == int(number)), None)
    if withdrawn is None:
        raise DecisionError(f"unknown decision {ask.target!r}", f"Không có điều chỉnh số {ask.target}")
    standing = standings(decisions)[withdrawn.id]
    if standing.state == DecisionState.REVOKED:
        raise DecisionError(f"decision {withdrawn.id} is already withdrawn (by {standing.by})",
                            f"Điều chỉnh số {withdrawn.id} đã được hoàn tác")
    row = {"campaign": withdrawn.campaign, "kind": DecisionKind.UNDO, "target": withdrawn.target,
           "revokes": withdrawn.id, "note": ask.note or None, "by": by, "at": now_iso()}
    return row, withdrawn


def _row(db: sqlite_utils.Database, campaigns: Sequence[Campaign], ask: Ask, by: str) -> dict:
    """The decisions row `ask` makes, once everything it names is known to exist."""
    target, value, address, mail_campaign = ask.target.strip(), (ask.value or "").strip() or None, None, None
    if ask.kind in MAIL_KINDS:
        target, mail_campaign = resolve_mail(db, target)
    elif ask.kind == DecisionKind.KIND:
        found = db.execute("select a.message, m.campaign_id from attachments a join messages m on m.id = a.message "
                           "where a.id = ?", [target]).fetchone()
        if found is None:
            raise DecisionError(f"unknown attachment {target!r}", f"Không có tệp «{target}»")
        mail_campaign = found[1]
    elif ask.kind not in UNIT_KINDS:
        raise DecisionError(f"unknown decision kind {ask.kind!r}: {', '.join(DecisionKind)}",
                            f"Không có loại điều chỉnh «{ask.kind}»")
    campaign = _campaign(campaigns, ask.campaign or (mail_campaign if mail_campaign in {c.id for c in campaigns}
                                                     else None))
    if ask.kind == DecisionKind.ASSIGN:
        value = _unit(campaign, value)
        if ask.remember:
            address = _remembered_address(db, campaign, target)
    elif ask.kind == DecisionKind.KIND:
        kinds = Roster.of(campaign).kinds
        if value not in kinds:
            raise DecisionError(f"unknown kind {value!r} for campaign {campaign.id}: {', '.join(kinds)}",
                                f"Đợt báo cáo này không có loại tệp «{value or ''}»")
    elif ask.kind in UNIT_KINDS:
        target = _unit(campaign, target)
        if ask.kind == DecisionKind.PAPER:
            try:
                value = paper_moment(value or "", campaign).isoformat()
            except ValueError:
                raise DecisionError(
                    f"--at must be an ISO 8601 date-time, e.g. 2022-06-14T09:30:00+07:00, not {value!r}",
                    "Cần ghi ngày giờ nhận bản giấy, ví dụ 14/06/2022 09:30") from None
        elif ask.kind == DecisionKind.NOTE and not value:
            raise DecisionError("the note is empty", "Ghi chú còn trống")
    return {"campaign": campaign.id, "kind": ask.kind, "target": target, "value": value, "address": address,
            "note": (ask.note or "").strip() or None, "by": by, "at": now_iso()}


def decide(db: sqlite_utils.Database, campaigns: Sequence[Campaign], ask: Ask, by: str,
           now: datetime | None = None) -> Decision:
    """Check and write one decision and recompute the statuses it touches, in one transaction.
    Raises DecisionError, having written nothing."""
    with db.conn:
        db.conn.execute("BEGIN IMMEDIATE")
        withdrawn = None
        if ask.kind == DecisionKind.UNDO:
            row, withdrawn = _undo(db, ask, by)
        else:
            row = _row(db, campaigns, ask, by)
        schema.insert(db.conn, "decisions", [row])
        (new_id,) = db.conn.execute("select last_insert_rowid()").fetchone()
        decision = next(d for d in load_decisions(db) if d.id == new_id)
        # A remembered address reaches every campaign whose roster has the unit.
        wide = bool(row.get("address") or (withdrawn is not None and withdrawn.address))
        moment = now or datetime.now(timezone.utc)
        for campaign in campaigns:
            if wide or campaign.id == decision.campaign:
                recompute(db, campaign, moment)
    return decision


def record(db_path: str, rules: str, ask: Ask, by: str) -> Decision:
    """decide() on a connection of its own, with the campaign files as they are now (for
    `intake serve`, whose Datasette only reads)."""
    db = open_db(db_path)
    try:
        return decide(db, load_campaigns(rules), ask, by)
    finally:
        db.close()


@dataclass
class Listed:
    """A decision as `intake decisions` and the staff pages show it."""

    decision: Decision
    state: DecisionState
    by_decision: int | None  # the undo that revoked it, or the decision that superseded it

    def as_json(self) -> dict:
        return {**self.decision.as_json(), "state": self.state, "state_by": self.by_decision}


def listed(db: sqlite_utils.Database | sqlite3.Connection, rosters: dict[str, Roster],
           keep: Callable[[Decision], bool] = lambda d: True, decisions: list[Decision] | None = None) -> list[Listed]:
    """The decisions `keep` keeps (of `decisions`, default every one stored), with their standing,
    newest first: `rosters` are the campaigns as they are now, by id (at least those of the
    decisions kept)."""
    decisions = load_decisions(db) if decisions is None else decisions
    kept = [d for d in decisions if keep(d)]
    targets = json.dumps(sorted({d.target for d in kept}))
    found = "select id from {} where id in (select value from json_each(?))"
    mails = {r[0] for r in db.execute(found.format("messages"), [targets])}
    files = {r[0] for r in db.execute(found.format("attachments"), [targets])}
    standing = review(decisions, rosters, mails, files)
    return [Listed(d, standing[d.id].state, standing[d.id].by) for d in reversed(kept)]
