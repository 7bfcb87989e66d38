"""Mail page `/-/mail/{id}`: one stored mail as staff read it: who sent it, when it arrived, the
campaign and unit it counts for (or that nobody could tell, or that staff set it aside), its files
to download, flags in words, the text of the mail, the original .eml; and the staff decisions about
it and its files, with their forms (assign, set aside, what each file is)."""

from __future__ import annotations

from pipeline.staff import data, history
from pipeline.staff.corrections import forms
from pipeline.staff.page import found, render
from pipeline.staff.unit import mail_view


def _load(conn, mail_id: str):
    mail = data.mail(conn, mail_id)
    if mail is None:
        return None
    entries = history.history(conn, mails=[mail.id], files=[f.id for f in mail.files])
    open_campaigns = [c for c in data.campaigns(conn) if not c.closed]
    pickers = [mail.campaign_id] if mail.campaign_id else [c.id for c in open_campaigns]
    return mail, data.campaign(conn, mail.campaign_id) if mail.campaign_id else None, entries, \
        data.campaign_units(conn, pickers), open_campaigns


async def view(datasette, request):
    mail, info, entries, units, open_campaigns = await found(datasette, request, _load, request.url_vars["mail"],
                                                            missing="Không tìm thấy thư này")
    view_of = mail_view(mail, info, history.in_force_about_mails(entries))
    # A mail of no campaign may be assigned to a unit of any open one.
    pick = units.get(info.id, []) if info else list({u: (u, n) for c in open_campaigns
                                                     for u, n in units.get(c.id, [])}.values())
    return await render(datasette, request, "staff_mail.html", {
        **view_of, "v": view_of, "history": entries, "decide": forms(datasette, request), "units": pick,
        "open_campaigns": open_campaigns,
    })
