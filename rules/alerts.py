"""Which alerts are due: facts in (campaign, statuses, receipts, what was already sent), alerts out.

Pure: no SQL, no SMTP, no clock. Like the statuses, the due alerts are recomputed from the facts
every time; what makes them "sent once" is the set of (key, recipient) pairs already sent, which
the caller reads from its log. Kinds:

- reminder: from `deadline - reminder_days` until the deadline, to each unit whose submission is
  not complete (no report, a missing attachment or section, an unsigned report where the
  campaign requires a signature); once per unit. reminder_days 0 = none.
- overdue: from the deadline on, to each unit with no report (status missing), once per unit; and
  one digest (unit None, key ("overdue_digest", campaign)) to staff listing every unit missing or
  incomplete at the moment it is sent.
- late_arrival: to staff, once per mail carrying the campaign's report received at or after the
  deadline.
- acknowledgement: to the sender of every counted mail that carries at least one document of the
  campaign (the report or a recognized attachment); says what was found and what is still missing
  once this mail arrived. A mail forwarded by the office, or sent from a staff or the office's own
  address, is acknowledged to the unit's registered addresses instead.

Both are per submission, not per delivery: the deliveries of one mail (same content key: same
Message-ID and files) get one, from the first of them.

Staff decisions (rules/decisions.py) reach the alerts through the statuses and receipts: an
exempt unit gets no reminder or overdue notice and is not in the digest; a mail staff assigned to a
unit (or whose sender they told intake to remember) gets that unit's acknowledgement, once per unit
even if it was acknowledged before as nobody's; a paper submission is no receipt, so nobody is
acknowledged for it; a mail set aside is not counted.

Never to auto-replies or list mail without files (those are not counted), nor to no-reply
addresses. Alerts about a mail (acknowledgement, late_arrival) are only due within `max_age` of its
arrival, and overdue notices within `max_age` of the deadline, so a first run over an old mailbox
does not answer last year's mail nor chase last year's reports. A campaign marked `closed` gets no
alerts at all.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rules import alert_texts as texts
from rules.attribution import ASSIGNED_MATCH, REMEMBERED_MATCH
from rules.campaign import Campaign
from rules.facts import MailFacts
from rules.status import UnitStatus
from rules.vocabulary import AlertKind, Status

AlertKey = tuple[str, ...]
KINDS = tuple(AlertKind)

_UNANSWERABLE = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|no_reply|do-?not-?reply|bounces?|listserv|majordomo)([-+._].*)?@", re.I)


def unanswerable(address: str) -> bool:
    """No-reply, bounce and list-robot addresses: intake never writes to them."""
    return not address or "@" not in address or bool(_UNANSWERABLE.match(address.strip()))


@dataclass(frozen=True)
class Alert:
    kind: str  # one of KINDS
    campaign: str
    unit: str | None  # None for the staff digest and for mail nobody could attribute
    recipients: tuple[str, ...]  # those not yet sent to
    subject: str
    key: AlertKey  # identity for "sent once", e.g. ("reminder", campaign, unit)
    text: str = field(default="", compare=False, repr=False)
    html: str = field(default="", compare=False, repr=False)
    message: str | None = None  # the stored mail it is about (acknowledgement, late_arrival)
    in_reply_to: str | None = None  # Message-ID answered (acknowledgement)

    def as_json(self) -> dict:
        return {"kind": self.kind, "campaign": self.campaign, "unit": self.unit,
                "recipients": list(self.recipients), "subject": self.subject}


@dataclass
class Receipt:
    """One stored mail of the campaign, with what the unit's submission looked like once it arrived."""

    mail: MailFacts
    sender: str | None
    subject: str
    message_id: str | None
    unit_basis: str | None  # sender | forwarded_sender | issuer | assigned | remembered | None
    after: UnitStatus  # the unit's status evaluated at mail.received_at


def complete(status: UnitStatus) -> bool:
    return (status.report is not None and not status.missing_attachments and not status.missing_sections
            and not status.missing_signature)


def _new(kind: str, campaign: Campaign, unit: str | None, recipients, rendered, key: AlertKey,
         sent: Collection, **extra) -> Alert | None:
    todo = []
    for r in recipients:
        r = r.strip().lower()
        if r and r not in todo and not unanswerable(r) and (key, r) not in sent:
            todo.append(r)
    if not todo:
        return None
    subject, text, html = rendered
    return Alert(kind, campaign.id, unit, tuple(todo), subject, key, text, html, **extra)


def mail_alert_key(kind: str, campaign_id: str, content_key: str, unit: str | None = None) -> AlertKey:
    """Identity of an alert about one submission (acknowledgement, late_arrival): its content key,
    shared by every delivery of the same mail, and the unit when staff said whose it is."""
    return (kind, campaign_id, content_key) + ((unit,) if unit else ())


def _first_deliveries(receipts: list[Receipt]) -> list[Receipt]:
    seen: dict[str, Receipt] = {}
    for r in sorted(receipts, key=lambda r: (r.mail.received_at, r.mail.id)):
        seen.setdefault(r.mail.content_key, r)
    return list(seen.values())


def due_alerts(campaign: Campaign, statuses: list[UnitStatus], receipts: list[Receipt],
               sent: Collection[tuple[AlertKey, str]], now: datetime, *, staff: Collection[str] = (),
               office: Collection[str] = (), max_age: timedelta | None = timedelta(days=7)) -> list[Alert]:
    """Every alert due at `now` with the recipients it has not been sent to yet.

    statuses: campaign_status(...) at now; sent: (key, recipient) pairs already sent (or being
    sent); staff: who gets digests and late-arrival notices; office: intake's own addresses.
    """
    if campaign.closed:
        return []
    alerts: list[Alert | None] = []
    units = {u.id: u for u in campaign.units}
    own = {a.lower() for a in [*staff, *office]}
    received = [r for r in receipts if r.mail.received_at is not None]
    arrived = [(r, r.mail.received_at) for r in _first_deliveries(received)
               if r.mail.received_at is not None and r.mail.counted and r.mail.received_at <= now
               and (max_age is None or now - r.mail.received_at <= max_age)]

    for r, received_at in arrived:
        m, unit = r.mail, units.get(r.mail.unit or "")
        name = unit.name if unit else None
        campaign_docs = [d for d in m.documents if d.kind != "other"]
        if not campaign_docs:
            continue
        if r.sender and r.sender.lower() not in own and r.unit_basis != "forwarded_sender":
            to = [r.sender]
        else:
            to = list(unit.emails) if unit else []
        rendered = texts.acknowledgement(campaign, name, r.subject, received_at, m.documents, r.after)
        decided = m.unit if unit and r.unit_basis in (ASSIGNED_MATCH, REMEMBERED_MATCH) else None
        alerts.append(_new(AlertKind.ACKNOWLEDGEMENT, campaign, m.unit if unit else None, to, rendered,
                           mail_alert_key(AlertKind.ACKNOWLEDGEMENT, campaign.id, m.content_key, decided), sent,
                           message=m.id, in_reply_to=r.message_id))
        if received_at >= campaign.deadline and any(d.kind == "report" for d in m.documents):
            rendered = texts.late_arrival(campaign, name, r.sender, r.subject, received_at, m.documents)
            alerts.append(_new(AlertKind.LATE_ARRIVAL, campaign, m.unit if unit else None, staff, rendered,
                               mail_alert_key(AlertKind.LATE_ARRIVAL, campaign.id, m.content_key), sent, message=m.id))

    by_unit = {s.unit: s for s in statuses if s.unit is not None}
    reminder_from = campaign.deadline - timedelta(days=campaign.reminder_days)
    if campaign.reminder_days > 0 and reminder_from <= now < campaign.deadline:
        for unit in campaign.units:
            status = by_unit.get(unit.id)
            if status and status.status != Status.EXEMPT and not complete(status):
                alerts.append(_new(AlertKind.REMINDER, campaign, unit.id, unit.emails,
                                   texts.reminder(campaign, unit.name, status, now),
                                   (AlertKind.REMINDER, campaign.id, unit.id), sent))
    if now >= campaign.deadline and (max_age is None or now - campaign.deadline <= max_age):
        for unit in campaign.units:
            status = by_unit.get(unit.id)
            if status and status.status == Status.MISSING:
                alerts.append(_new(AlertKind.OVERDUE, campaign, unit.id, unit.emails,
                                   texts.overdue(campaign, unit.name, status, now),
                                   (AlertKind.OVERDUE, campaign.id, unit.id), sent))
        rows = [(u.name, by_unit[u.id]) for u in campaign.units
                if u.id in by_unit and by_unit[u.id].status != Status.EXEMPT and not complete(by_unit[u.id])]
        if rows:
            alerts.append(_new(AlertKind.OVERDUE, campaign, None, staff, texts.digest(campaign, rows, now),
                               ("overdue_digest", campaign.id), sent))
    return [a for a in alerts if a is not None]
