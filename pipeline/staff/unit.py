"""Unit page `/-/unit/{id}`: everything about one unit: its status in each campaign, each mail
(subject, received, files to download, flags in words), the alerts sent to it, its addresses
(those staff told intake to remember too), and the staff decisions about it and its mails, with
their forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.staff import data, fmt, history, present
from pipeline.staff.corrections import forms
from pipeline.staff.page import found, part, render
from rules.vocabulary import AlertKind, AlertOutcome, DecisionKind, MailFlag, flag_label


def _load(conn, unit_id: str):
    unit = data.unit(conn, unit_id)
    if unit is None:
        return None
    campaigns = {c.id: c for c in data.campaigns(conn)}
    mails = data.unit_mails(conn, unit_id)
    entries = history.history(conn, unit_id=unit_id, mails=[m.id for m in mails],
                              files=[f.id for m in mails for f in m.files])
    return unit, campaigns, data.unit_statuses(conn, unit_id), mails, data.unit_alerts(conn, unit_id), entries


def mail_view(mail: data.Mail, info: data.CampaignInfo | None,
              decided: Mapping[str, Sequence[history.Entry]] | None = None) -> dict:
    """A mail with its times in its campaign's zone and its files and flags in words; a file's
    kind is the one staff gave it (`decided`: the decisions in force by mail and file), else the
    one found, and a mail staff assigned is no longer of an unknown sender."""
    decided = decided or {}
    tz = info.tz if info else fmt.zone(None)
    titles = info.attachments if info else {}
    flags = [f for f in mail.flags if not (mail.unit_id and f == MailFlag.UNKNOWN_SENDER)]
    files = []
    for f in mail.files:
        given = [e.value for e in decided.get(f.id, []) if e.kind == DecisionKind.KIND]
        kind = given[-1] if given else f.kind
        files.append({"file": f, "kind_code": kind, "decided": bool(given),
                      "kind": info.document_kind(kind) if info and kind else ("Văn bản" if kind else ""),
                      "size": fmt.size(f.size), "flags": [flag_label(k, titles) for k in f.flags],
                      "signatures": [present.signature_line(s, tz) for s in f.signatures]})
    return {"mail": mail, "info": info, "received": fmt.moment(mail.received_at, tz),
            "flags": [flag_label(f, titles) for f in flags], "files": files, "decided": list(decided.get(mail.id, []))}


async def view(datasette, request):
    unit_id = request.url_vars["unit"]
    unit, campaigns, statuses, mails, alerts, entries = await found(datasette, request, _load, unit_id,
                                                                    missing=f"Không có đơn vị «{unit_id}»")
    kinds, outcomes = {k.value: k.label for k in AlertKind}, {o.value: o.label for o in AlertOutcome}
    about_units, about_mails = history.in_force_about_units(entries), history.in_force_about_mails(entries)
    decide = forms(datasette, request)
    return await render(datasette, request, "staff_unit.html", {
        "unit": unit,
        "statuses": [(campaigns[cid], present.unit_line(campaigns[cid], row, about_units.get((cid, unit_id), [])))
                     for cid, row in statuses if cid in campaigns],
        "mails": mails,
        "mail_list": part(datasette, "_intake_mails.html", decide=decide, mails=[
            mail_view(m, campaigns.get(m.campaign_id or ""), about_mails) for m in mails]),
        "alerts": [{"alert": a, "campaign": campaigns.get(a.campaign_id),
                    "kind": kinds.get(a.kind, a.kind), "outcome": outcomes.get(a.outcome, a.outcome),
                    "at": fmt.moment(a.at, campaigns[a.campaign_id].tz if a.campaign_id in campaigns
                                     else fmt.zone(None))} for a in alerts],
        "remembered": history.remembered_addresses(entries),
        "history": entries,
        "decide": decide,
    })
