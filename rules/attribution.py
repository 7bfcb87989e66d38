"""Which campaign a mail answers and which unit sent it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from extractors.text import fold
from rules.campaign import Campaign, unit_key

ISSUER_MATCH = "issuer"
SENDER_MATCH = "sender"
FORWARDED_MATCH = "forwarded_sender"
# Found by a staff decision (rules/decisions.py): the mail assigned to the unit, or its sender an
# address staff told intake to remember for the unit.
ASSIGNED_MATCH = "assigned"
REMEMBERED_MATCH = "remembered"


@dataclass
class MailSignals:
    """What a mail says about itself, independent of storage."""

    subject: str
    body: str
    sender: str | None
    forwarded_senders: list[str]
    thread_ids: list[str]  # In-Reply-To and References
    auto_reply: bool


def campaign_score(campaign: Campaign, mail: MailSignals, kinds: list[str]) -> float:
    """How strongly a mail belongs to a campaign: a reply to its call letter, files recognized as its
    report or attachments, its keywords in the subject, body or files."""
    score = 0.0
    if set(campaign.thread_ids) & set(mail.thread_ids):
        score += 1.0
    if "report" in kinds:
        score += 1.0
    elif any(k != "other" for k in kinds):
        score += 0.6
    text = f" {fold(mail.subject)} {fold(mail.body)} "
    if any(f" {fold(k)} " in text for k in campaign.keywords if fold(k)):
        score += 0.5
    return score


def campaign_score_bound(campaign: Campaign, mail: MailSignals) -> float:
    """The most campaign_score() can give `mail` for `campaign`, whatever its files turn out to be
    (a report is the most they add), known without reading them."""
    return campaign_score(campaign, mail, ["report"])


def sender_unit(campaign: Campaign, address: str | None) -> str | None:
    if not address:
        return None
    return campaign.unit_of_address(address.lower())


def issuer_unit(campaign: Campaign, issuer: str | None) -> str | None:
    """The unit whose name (party prefix aside) is the document's issuing body."""
    if not issuer:
        return None
    key = unit_key(issuer)
    if not key:
        return None
    for unit in campaign.units:
        names = [unit.name, *unit.aliases]
        if any(unit_key(n) == key for n in names):
            return unit.id
    return None


def remembered_unit(campaign: Campaign, sender: str | None, remembered: Mapping[str, str]) -> str | None:
    """The unit staff told intake the sender's address belongs to (`remembered`: address → unit
    id), when that unit is on the campaign's roster. It outranks a forwarded sender and the
    letterhead, never an address the campaign file gives a unit."""
    if not sender or sender_unit(campaign, sender):
        return None
    unit = remembered.get(sender.lower())
    return unit if unit is not None and campaign.unit(unit) is not None else None


def attribute(campaign: Campaign, mail: MailSignals, issuers: list[str]) -> tuple[str | None, str | None]:
    """(unit id, how it was found): sender address, then a forwarded mail's sender, then the
    issuing body named in the report's letterhead."""
    unit = sender_unit(campaign, mail.sender)
    if unit:
        return unit, SENDER_MATCH
    for address in mail.forwarded_senders:
        unit = sender_unit(campaign, address)
        if unit:
            return unit, FORWARDED_MATCH
    for issuer in issuers:
        unit = issuer_unit(campaign, issuer)
        if unit:
            return unit, ISSUER_MATCH
    return None, None
