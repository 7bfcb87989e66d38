"""A unit's status for a campaign, computed from its mails, the campaign file and a moment.

Nothing here is accumulated: resubmissions, corrected campaign files and "what was the state at
15/6 08:00" all come out right because the status is recomputed from the facts every time.

Policy for a unit with several mails:
- the submission is every counted mail of the unit for the campaign, duplicates counted once;
- the status comes from when the report first arrived (late = not before the deadline);
- the newest report is current: missing sections and "(nếu có)" attachments follow it;
- an attachment sent in any mail clears its missing flag, marked late_attachment if it came
  after the deadline;
- files of one mail holding the same text (the signed PDF and its .docx) are one report
  (rules/same_report.py); with `signature: required` the current report must be signed
  (rules/signatures.py).

Staff decisions (rules/decisions.py) are applied to the facts first: mails assigned or set aside,
files of the kind staff said, paper submissions as mails. Then a unit staff exempted is `exempt`,
owing nothing, and every status lists the decisions that shaped it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from rules.campaign import Campaign
from rules.decisions import Corrected, Decision, correct, paper_decision
from rules.facts import MailFacts
from rules.same_report import reports_of
from rules.signatures import missing_signature
from rules.vocabulary import MailFlag, Status, StatusFlag, late_attachment


@dataclass
class UnitStatus:
    unit: str | None
    status: Status
    received_at: datetime | None
    missing_attachments: list[str] = field(default_factory=list)
    missing_sections: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    report: str | None = None  # id of the current report document ("decision:<id>" for a paper one)
    messages: list[str] = field(default_factory=list)
    missing_signature: str | None = None  # StatusFlag.UNSIGNED or SIGNATURE_INVALID (also in flags)
    decisions: list[int] = field(default_factory=list)  # the staff decisions that shaped it

    def as_json(self) -> dict:
        return {
            "unit": self.unit,
            "status": self.status,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "missing_attachments": self.missing_attachments,
            "missing_sections": self.missing_sections,
            "flags": self.flags,
            "report": self.report,
            "messages": self.messages,
            "missing_signature": self.missing_signature,
            "decisions": self.decisions,
        }


def _arrived(mail: MailFacts, now: datetime | None) -> bool:
    return now is None or (mail.received_at is not None and mail.received_at <= now)


def _dedupe(mails: list[MailFacts]) -> list[MailFacts]:
    """One mail per content key, the earliest arrival kept."""
    first: dict[str, MailFacts] = {}
    for mail in sorted(mails, key=lambda m: (m.received_at is None, m.received_at or datetime.min, m.id)):
        first.setdefault(mail.content_key, mail)
    return sorted(first.values(), key=lambda m: (m.received_at is None, m.received_at or datetime.min, m.id))


def submission_status(campaign: Campaign, unit: str | None, mails: list[MailFacts],
                      now: datetime | None) -> UnitStatus:
    """The status of one unit (or of one unattributed mail, unit None) as of `now`."""
    mails = _dedupe([m for m in mails if m.counted and _arrived(m, now)])
    flags: list[str] = []
    for m in mails:
        flags.extend(f for f in m.flags if f not in flags)
    reports = [(m, d) for m in mails for d in reports_of(m.documents)]
    if not reports:
        status = Status.PENDING if now is not None and now < campaign.deadline else Status.MISSING
        if mails:
            flags.append(StatusFlag.NO_REPORT)
        return UnitStatus(unit, status, None, flags=flags, messages=[m.id for m in mails])
    first_mail, _ = reports[0]
    current_mail, current = reports[-1]
    received = first_mail.received_at
    late = received is None or received >= campaign.deadline
    if len(reports) > 1:
        flags.append(StatusFlag.RESUBMITTED)
    missing_attachments = []
    for rule in campaign.attachments:
        needed = rule.required is True or (rule.required == "if_mentioned" and current.mentions.get(rule.id))
        carriers = [m for m in mails if any(d.kind == rule.id for d in m.documents)]
        if carriers:
            if carriers[0].received_at and carriers[0].received_at >= campaign.deadline and not late:
                flags.append(late_attachment(rule.id))
        elif needed:
            missing_attachments.append(rule.id)
    for d in current.flags:
        if d not in flags:
            flags.append(d)
    # A paper copy is signed by hand: the rule asks a digital signature of files only.
    signature = missing_signature(campaign, current) if paper_decision(current.id) is None else None
    if signature:
        flags.append(signature)
    return UnitStatus(
        unit,
        Status.LATE if late else Status.ON_TIME,
        received,
        missing_attachments,
        list(current.missing_sections),
        flags,
        report=current.id,
        messages=[m.id for m in mails],
        missing_signature=signature,
    )


def unit_status(campaign: Campaign, unit: str | None, mails: list[MailFacts], now: datetime | None,
                corrected: Corrected) -> UnitStatus:
    """submission_status() of corrected facts, then what staff decided about the unit itself: an
    exempt unit owes nothing. `messages` names stored mails only (a paper submission is a decision)."""
    entry = submission_status(campaign, unit, mails, now)
    if unit is not None and unit in corrected.exempt:
        entry.status = Status.EXEMPT
        entry.missing_attachments, entry.missing_sections = [], []
        entry.flags = [f for f in entry.flags if f not in (StatusFlag.NO_REPORT, entry.missing_signature)]
        entry.missing_signature = None
    entry.decisions = corrected.shaping(unit, entry.messages)
    entry.messages = [m for m in entry.messages if paper_decision(m) is None]
    return entry


def campaign_status(campaign: Campaign, mails: list[MailFacts], now: datetime | None = None,
                    decisions: Iterable[Decision] = ()) -> list[UnitStatus]:
    """Every expected unit's status, then one entry per unattributed counted mail (unit None), with
    the staff decisions applied."""
    return corrected_status(campaign, correct(campaign, mails, decisions), now)


def corrected_status(campaign: Campaign, corrected: Corrected, now: datetime | None) -> list[UnitStatus]:
    """campaign_status() of facts the decisions were already applied to."""
    by_unit: dict[str | None, list[MailFacts]] = {}
    for mail in corrected.mails:
        by_unit.setdefault(mail.unit, []).append(mail)
    known = {u.id for u in campaign.units}
    result = [unit_status(campaign, u.id, by_unit.get(u.id, []), now, corrected) for u in campaign.units]
    strays = [m for uid, ms in by_unit.items() if uid not in known for m in ms]
    for mail in _dedupe([m for m in strays if m.counted and _arrived(m, now)]):
        entry = unit_status(campaign, None, [mail], now, corrected)
        if MailFlag.UNKNOWN_SENDER not in entry.flags:
            entry.flags.insert(0, MailFlag.UNKNOWN_SENDER)
        result.append(entry)
    return result
