"""Staff decisions as the pages show them ("Lịch sử điều chỉnh"): who decided what, when and why,
in words, with whether it applies now (pipeline/decide.py `listed`, rules/decisions.py); and what
the pages need of them beside the history: a unit's decisions in force, the addresses remembered
for it, the kind staff gave a file. Read on Datasette's read-only connection."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from pipeline.decide import Listed, listed
from pipeline.staff import data, fmt
from pipeline.store import load_decisions
from rules.decisions import MAIL_KINDS, UNIT_KINDS, Decision, Roster
from rules.vocabulary import TERMS, DecisionKind, DecisionState


@dataclass
class Entry:
    """One decision, as a line of the history."""

    id: int
    campaign_id: str
    kind: str
    kind_label: str
    target: str
    value: str  # the unit, kind, moment or text it says (see rules/decisions.py)
    address: str  # assign: the sender address remembered
    what: str  # the decision in words
    note: str
    by: str
    at: str
    state: str
    state_label: str

    @property
    def in_force(self) -> bool:
        return self.state == DecisionState.IN_FORCE

    @property
    def undoable(self) -> bool:
        """Every decision may be undone, an undo too, until something undoes it."""
        return self.state != DecisionState.REVOKED


@dataclass
class Names:
    """What a decision's words name: campaigns, units, mails and files."""

    campaigns: dict[str, data.CampaignInfo]
    units: dict[tuple[str, str], str]  # (campaign, unit) → name
    subjects: dict[str, str]
    files: dict[str, str]

    def unit(self, campaign_id: str, unit_id: str | None) -> str:
        return self.units.get((campaign_id, unit_id or ""), unit_id or "")


_IN = "in (select value from json_each(?))"


def _units(conn: sqlite3.Connection, decisions: Iterable[Decision]) -> dict[tuple[str, str], str]:
    """(campaign, unit) → name of the units these decisions name, in their campaigns: enough to
    word them and to tell which are gone (40 campaigns of 300 units would be 12,000 rows)."""
    decisions = list(decisions)
    named = {x for d in decisions for x in (d.target, d.value) if x}
    return {(c, u): n for c, u, n in conn.execute(
        f"select campaign_id, id, name from units where campaign_id {_IN} and id {_IN}",
        [json.dumps(sorted({d.campaign for d in decisions})), json.dumps(sorted(named))])}


def _names(conn: sqlite3.Connection, campaigns: dict[str, data.CampaignInfo], items: list[Listed],
           units: dict[tuple[str, str], str]) -> Names:
    targets = json.dumps(sorted({i.decision.target for i in items}))
    subjects = dict(conn.execute(f"select id, coalesce(subject, '') from messages where id {_IN}", [targets]))
    files = dict(conn.execute(f"select id, filename from attachments where id {_IN}", [targets]))
    return Names(campaigns, units, subjects, files)


def _what(item: Listed, names: Names) -> str:
    d = item.decision
    info = names.campaigns.get(d.campaign)
    unit = names.unit(d.campaign, d.target)
    subject = names.subjects.get(d.target)
    mail = f"thư «{subject or '(không có tiêu đề)'}»" if subject is not None else "thư (không còn trong dữ liệu)"
    if d.kind == DecisionKind.ASSIGN:
        remembered = f"; ghi nhớ địa chỉ {d.address} là của đơn vị" if d.address else ""
        return f"Gán {mail} cho {names.unit(d.campaign, d.value)}{remembered}"
    if d.kind == DecisionKind.IGNORE:
        return f"Không tính {mail}"
    if d.kind == DecisionKind.KIND:
        kind = info.document_kind(d.value) if info else d.value or ""
        return f"Tệp «{names.files.get(d.target, d.target)}» là: {kind}"
    if d.kind == DecisionKind.EXEMPT:
        return f"{unit}: miễn nộp"
    if d.kind == DecisionKind.PAPER:
        return f"{unit}: nộp bản giấy lúc {fmt.moment(d.value, info.tz if info else fmt.zone(None))}"
    if d.kind == DecisionKind.NOTE:
        return f"Ghi chú về {unit}: {d.value or ''}"
    return f"Hoàn tác điều chỉnh số {d.revokes}"


def _with_undos(decisions: list[Decision], chosen: set[int]) -> set[int]:
    """`chosen` and the undos that withdraw one of them (and so on: an undo may be undone)."""
    grew = True
    while grew:
        more = {d.id for d in decisions if d.revokes in chosen} - chosen
        chosen |= more
        grew = bool(more)
    return chosen


def history(conn: sqlite3.Connection, *, campaign_id: str | None = None, unit_id: str | None = None,
            mails: Collection[str] = (), files: Collection[str] = ()) -> list[Entry]:
    """The decisions of one campaign, or those about one unit (its own, and about its mails and
    their files), or about some mails and files; newest first."""
    decisions = load_decisions(conn)
    if campaign_id is not None:
        chosen = {d.id for d in decisions if d.campaign == campaign_id}
    else:
        about = set(mails) | set(files)
        chosen = _with_undos(decisions, {d.id for d in decisions if d.target in about or (
            unit_id is not None and (d.kind in UNIT_KINDS and d.target == unit_id
                                     or d.kind == DecisionKind.ASSIGN and d.value == unit_id))})
    if not chosen:
        return []
    campaigns = {c.id: c for c in data.campaigns(conn)}
    units = _units(conn, (d for d in decisions if d.id in chosen))
    rosters = {c: Roster.named((u for (of, u) in units if of == c), info.attachments) for c, info in campaigns.items()}
    items = listed(conn, rosters, lambda d: d.id in chosen, decisions)
    names = _names(conn, campaigns, items, units)
    entries = []
    for item in items:
        d, info = item.decision, campaigns.get(item.decision.campaign)
        state = item.state.label + (f" (số {item.by_decision})" if item.by_decision else "")
        entries.append(Entry(d.id, d.campaign, d.kind, TERMS["decision"].get(d.kind, d.kind), d.target, d.value or "",
                             d.address or "", _what(item, names), d.note or "", d.by or "",
                             fmt.moment(d.at, info.tz if info else fmt.zone(None)), item.state, state))
    return entries


def in_force_about_units(entries: Iterable[Entry]) -> dict[tuple[str, str], list[Entry]]:
    """(campaign, unit) → its exemption, paper submission and notes in force."""
    found: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        if e.in_force and e.kind in UNIT_KINDS:
            found.setdefault((e.campaign_id, e.target), []).append(e)
    return found


def in_force_about_mails(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """mail or file id → the decisions in force about it (its unit, its counting, its kind)."""
    found: dict[str, list[Entry]] = {}
    for e in entries:
        if e.in_force and (e.kind in MAIL_KINDS or e.kind == DecisionKind.KIND):
            found.setdefault(e.target, []).append(e)
    return found


def remembered_addresses(entries: Iterable[Entry]) -> list[Entry]:
    """The assign decisions in force that remember a sender's address (for the unit page)."""
    return [e for e in entries if e.in_force and e.kind == DecisionKind.ASSIGN and e.address]

