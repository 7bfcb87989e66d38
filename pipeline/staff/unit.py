"""Unit page `/-/unit/{id}`: everything about one unit: its status in each campaign, each mail
(subject, received, files to download, flags in words), the alerts sent to it, its addresses."""

from __future__ import annotations

from datasette.utils.asgi import NotFound

from pipeline.staff import data, fmt, present
from pipeline.staff.page import open_database, part, read, render
from rules.vocabulary import AlertKind, AlertOutcome, flag_label


def _load(conn, unit_id: str):
    unit = data.unit(conn, unit_id)
    if unit is None:
        return None
    campaigns = {c.id: c for c in data.campaigns(conn)}
    return unit, campaigns, data.unit_statuses(conn, unit_id), data.unit_mails(conn, unit_id), \
        data.unit_alerts(conn, unit_id)


def mail_view(mail: data.Mail, info: data.CampaignInfo | None) -> dict:
    """A mail with its times in its campaign's zone and its files and flags in words."""
    tz = info.tz if info else fmt.zone(None)
    titles = info.attachments if info else {}
    return {
        "mail": mail, "info": info, "received": fmt.moment(mail.received_at, tz),
        "flags": [flag_label(f, titles) for f in mail.flags],
        "files": [{"file": f, "kind": info.document_kind(f.kind) if info and f.kind else
                   ("Văn bản" if f.kind else ""), "size": fmt.size(f.size),
                   "flags": [flag_label(k, titles) for k in f.flags],
                   "signatures": [present.signature_line(s, tz) for s in f.signatures]} for f in mail.files],
    }


async def view(datasette, request):
    db = await open_database(datasette, request)
    unit_id = request.url_vars["unit"]
    loaded = await read(db, _load, unit_id)
    if loaded is None:
        raise NotFound(f"Không có đơn vị «{unit_id}»")
    unit, campaigns, statuses, mails, alerts = loaded
    kinds, outcomes = {k.value: k.label for k in AlertKind}, {o.value: o.label for o in AlertOutcome}
    return await render(datasette, request, "staff_unit.html", {
        "unit": unit,
        "statuses": [(campaigns[cid], present.unit_line(campaigns[cid], row)) for cid, row in statuses
                     if cid in campaigns],
        "mails": mails,
        "mail_list": part(datasette, "_intake_mails.html",
                          mails=[mail_view(m, campaigns.get(m.campaign_id or "")) for m in mails]),
        "alerts": [{"alert": a, "campaign": campaigns.get(a.campaign_id),
                    "kind": kinds.get(a.kind, a.kind), "outcome": outcomes.get(a.outcome, a.outcome),
                    "at": fmt.moment(a.at, campaigns[a.campaign_id].tz if a.campaign_id in campaigns
                                     else fmt.zone(None))} for a in alerts],
    })
