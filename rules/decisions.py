"""Staff decisions: what office staff said about a mail, a file or a unit, kept as it was said (who,
when, why) and applied to the facts before the status rules run (DESIGN.md §8). Pure: decisions
and facts in, corrected facts out; no SQL, no clock.

Kinds (DecisionKind in rules/vocabulary.py), with their target and value:
- assign: target a mail id, value a unit id. With `address` (staff ticked "remember this
  address"), every mail from that address counts as the unit's too, in every campaign whose roster
  has the unit (an address the campaign file gives a unit still wins, rules/attribution.py);
- ignore: target a mail id: the mail does not count for the campaign;
- kind: target an attachment id, value REPORT_KIND, one of the campaign's attachment ids or OTHER_KIND;
- exempt: target a unit id: status exempt, nothing missing, no reminder or overdue notice;
- paper: target a unit id, value the ISO 8601 moment the paper copy came: a report and every
  attachment the campaign lists received then, acknowledged to nobody;
- note: target a unit id, value the text, shown to staff;
- undo: `revokes` names the decision withdrawn, target is that decision's target (so the history
  of a mail or a unit holds its undos). An undo may itself be undone.

Standing: a decision is revoked by an undo in force. Of the decisions in force about one thing (a
mail's unit or counting, a file's kind, a unit's exemption, a unit's paper submission) the latest
wins and the earlier are superseded (they come back if it is undone); notes all stand. A decision
about something that no longer exists (a mail deleted, a unit gone from the roster) is kept and
not applied, with the reason (`review`). A mail decision reaches every delivery of the mail (its
content key). Decisions hold whatever moment statuses are evaluated at; only a paper submission
counts from its own time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from extractors.model import OTHER_KIND, REPORT_KIND
from rules.attribution import ASSIGNED_MATCH, REMEMBERED_MATCH, remembered_unit
from rules.campaign import Campaign
from rules.facts import DocumentFacts, MailFacts
from rules.vocabulary import DecisionKind, DecisionState, StatusFlag

MAIL_KINDS = (DecisionKind.ASSIGN, DecisionKind.IGNORE)
UNIT_KINDS = (DecisionKind.EXEMPT, DecisionKind.PAPER, DecisionKind.NOTE)
PAPER_PREFIX = "decision:"  # the id of a paper submission's report, "decision:<id>", where a file's id would be


@dataclass(frozen=True)
class Decision:
    id: int
    campaign: str
    kind: str  # a DecisionKind
    target: str
    value: str | None = None
    note: str | None = None  # why, in the words of whoever decided
    by: str | None = None
    at: str | None = None  # when it was decided (ISO 8601)
    address: str | None = None  # assign: the sender address remembered for the unit
    revokes: int | None = None  # undo: the decision withdrawn

    def as_json(self) -> dict:
        return {"id": self.id, "campaign": self.campaign, "kind": self.kind, "target": self.target,
                "value": self.value, "address": self.address, "revokes": self.revokes, "note": self.note,
                "by": self.by, "at": self.at}


@dataclass(frozen=True)
class Standing:
    state: DecisionState
    by: int | None = None  # the undo that revoked it, or the decision that superseded it


@dataclass(frozen=True)
class Roster:
    """What a campaign's decisions may name: its units, and the kinds staff may say a file is (the
    report, one of the campaign's attachments, or another file)."""

    units: frozenset[str]
    kinds: list[str]

    @classmethod
    def named(cls, units: Iterable[str], attachments: Iterable[str]) -> Roster:
        return cls(frozenset(units), [REPORT_KIND, *attachments, OTHER_KIND])

    @classmethod
    def of(cls, campaign: Campaign) -> Roster:
        return cls.named((u.id for u in campaign.units), (a.id for a in campaign.attachments))


def paper_report(decision_id: int) -> str:
    return f"{PAPER_PREFIX}{decision_id}"


def paper_decision(report: str | None) -> int | None:
    """The paper decision a status's report stands for, or None for a stored file."""
    if report and report.startswith(PAPER_PREFIX) and report[len(PAPER_PREFIX):].isdigit():
        return int(report[len(PAPER_PREFIX):])
    return None


def paper_moment(value: str, campaign: Campaign) -> datetime:
    """When a paper copy came; a moment written without an offset is in the campaign's time zone.
    Raises ValueError for what is no ISO 8601 date-time."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(campaign.timezone))


def _slot(d: Decision) -> tuple[str, ...] | None:
    """What a decision decides about: one in force per slot, the latest."""
    if d.kind in MAIL_KINDS:
        return (d.campaign, "mail", d.target)
    if d.kind in (DecisionKind.KIND, DecisionKind.EXEMPT, DecisionKind.PAPER):
        return (d.campaign, d.kind, d.target)
    return None


def standings(decisions: Iterable[Decision]) -> dict[int, Standing]:
    """Each decision revoked, superseded or in force (whether its target still exists: `review`).
    Newest first: whoever revokes or supersedes a decision is always newer than it."""
    result: dict[int, Standing] = {}
    revoked_by: dict[int, int] = {}
    latest: dict[tuple[str, ...], int] = {}
    for d in sorted(decisions, key=lambda d: d.id, reverse=True):
        if d.id in revoked_by:
            result[d.id] = Standing(DecisionState.REVOKED, revoked_by[d.id])
            continue
        if d.kind == DecisionKind.UNDO and d.revokes is not None:
            revoked_by.setdefault(d.revokes, d.id)
        slot = _slot(d)
        if slot is not None and slot in latest:
            result[d.id] = Standing(DecisionState.SUPERSEDED, latest[slot])
            continue
        if slot is not None:
            latest[slot] = d.id
        result[d.id] = Standing(DecisionState.IN_FORCE)
    return result


def problem(d: Decision, roster: Roster | None, mails: Collection[str],
            attachments: Collection[str]) -> DecisionState | None:
    """Why a decision cannot apply (its campaign, mail, file, unit or kind is gone), or None."""
    if d.kind == DecisionKind.UNDO:
        return None
    if roster is None:
        return DecisionState.CAMPAIGN_GONE
    if d.kind in MAIL_KINDS and d.target not in mails:
        return DecisionState.MAIL_GONE
    if d.kind == DecisionKind.KIND:
        if d.target not in attachments:
            return DecisionState.ATTACHMENT_GONE
        if d.value not in roster.kinds:
            return DecisionState.KIND_GONE
    unit = d.value if d.kind == DecisionKind.ASSIGN else d.target if d.kind in UNIT_KINDS else None
    if unit is not None and unit not in roster.units:
        return DecisionState.UNIT_GONE
    return None


def review(decisions: Sequence[Decision], rosters: Mapping[str, Roster], mails: Collection[str],
           attachments: Collection[str]) -> dict[int, Standing]:
    """Every decision's standing, those in force checked against what exists: the campaigns
    (their rosters), the stored mails and attachments."""
    result = standings(decisions)
    for d in decisions:
        if result[d.id].state == DecisionState.IN_FORCE:
            found = problem(d, rosters.get(d.campaign), mails, attachments)
            if found is not None:
                result[d.id] = Standing(found)
    return result


def in_force(decisions: Iterable[Decision]) -> list[Decision]:
    """The decisions that stand, oldest first (undos only revoke: they are not among them)."""
    decisions = list(decisions)
    standing = standings(decisions)
    return sorted((d for d in decisions if standing[d.id].state == DecisionState.IN_FORCE
                   and d.kind != DecisionKind.UNDO), key=lambda d: d.id)


def remembered(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """Sender address → the assign decision in force that remembered it (the latest)."""
    return {d.address.lower(): d for d in in_force(decisions) if d.kind == DecisionKind.ASSIGN and d.address}


def reach(campaign: Campaign, decisions: Iterable[Decision]) -> tuple[set[str], set[str]]:
    """(mails, attachments) the campaign's decisions in force are about: what the facts must hold
    even where intake placed it in another campaign or in none, or read no document from it."""
    mine = [d for d in in_force(decisions) if d.campaign == campaign.id]
    return ({d.target for d in mine if d.kind == DecisionKind.ASSIGN},
            {d.target for d in mine if d.kind == DecisionKind.KIND})


@dataclass
class Corrected:
    """A campaign's facts with its staff decisions applied."""

    mails: list[MailFacts]
    exempt: dict[str, int] = field(default_factory=dict)  # unit → the exempt decision
    by_unit: dict[str, list[int]] = field(default_factory=dict)  # decisions about a unit's submission
    by_mail: dict[str, list[int]] = field(default_factory=dict)  # decisions about one mail (unit, counting, files)

    def shaping(self, unit: str | None, mails: Iterable[str]) -> list[int]:
        """The decisions that shaped a submission: those about the unit, and about its mails."""
        ids = set(self.by_unit.get(unit, []) if unit else [])
        for mail in mails:
            ids.update(self.by_mail.get(mail, []))
        return sorted(ids)


def _paper_mail(d: Decision, campaign: Campaign) -> MailFacts | None:
    """A paper submission as the facts of a mail: the report and every attachment the campaign
    lists, received at its time."""
    try:
        moment = paper_moment(d.value or "", campaign)
    except ValueError:
        return None
    report = paper_report(d.id)
    documents = [DocumentFacts(report, "", REPORT_KIND)]
    documents += [DocumentFacts(f"{report}:{a.id}", "", a.id) for a in campaign.attachments]
    return MailFacts(report, moment, d.target, report, documents=documents, flags=[StatusFlag.ON_PAPER],
                     unit_basis=ASSIGNED_MATCH)


def correct(campaign: Campaign, mails: Sequence[MailFacts], decisions: Iterable[Decision]) -> Corrected:
    """The facts as staff corrected them: mails assigned to a unit or set aside, mail from a
    remembered address the unit's, files of the kind staff said, paper submissions as mails; and
    the units exempted. Decisions whose target is not among the facts (or not on the roster) do
    nothing."""
    live = in_force(decisions)
    mine = [d for d in live if d.campaign == campaign.id]
    addresses = remembered(live)
    units_of = {address: d.value or "" for address, d in addresses.items()}
    keys = {m.id: m.content_key for m in mails}
    about_mail: dict[str, Decision] = {}  # content key → the latest decision about that mail
    about_file: dict[str, Decision] = {}
    result = Corrected([])
    kinds = Roster.of(campaign).kinds
    for d in mine:
        if d.kind in MAIL_KINDS and d.target in keys and (d.kind == DecisionKind.IGNORE
                                                          or campaign.unit(d.value or "")):
            about_mail[keys[d.target]] = d
        elif d.kind == DecisionKind.KIND and d.value in kinds:
            about_file[d.target] = d
        elif d.kind == DecisionKind.EXEMPT and campaign.unit(d.target):
            result.exempt[d.target] = d.id
            result.by_unit.setdefault(d.target, []).append(d.id)
        elif d.kind == DecisionKind.PAPER and campaign.unit(d.target):
            paper = _paper_mail(d, campaign)
            if paper is not None:
                result.mails.append(paper)
                result.by_unit.setdefault(d.target, []).append(d.id)
    for mail in mails:
        about = result.by_mail.setdefault(mail.id, [])
        if about_file:
            documents = []
            for doc in mail.documents:
                kind = about_file.get(doc.id)
                documents.append(replace(doc, kind=kind.value or doc.kind) if kind else doc)
                if kind:
                    about.append(kind.id)
            mail = replace(mail, documents=documents)
        said = about_mail.get(mail.content_key)
        if said is not None and said.kind == DecisionKind.IGNORE:
            if mail.unit:
                result.by_unit.setdefault(mail.unit, []).append(said.id)
            mail = replace(mail, counted=False)
            about.append(said.id)
        elif said is not None:
            mail = replace(mail, unit=said.value, unit_basis=ASSIGNED_MATCH)
            about.append(said.id)
        else:
            unit = remembered_unit(campaign, mail.sender, units_of)
            if unit is not None:
                mail = replace(mail, unit=unit, unit_basis=REMEMBERED_MATCH)
                about.append(addresses[(mail.sender or "").lower()].id)
        result.mails.append(mail)
    return result
