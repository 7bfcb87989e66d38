"""Mail page `/-/mail/{id}`: one stored mail as staff read it: who sent it, when it arrived, the
campaign and unit it counts for (or that nobody could tell), its files to download, flags in
words, the text of the mail, the original .eml."""

from __future__ import annotations

from datasette.utils.asgi import NotFound

from pipeline.staff import data
from pipeline.staff.page import open_database, read, render
from pipeline.staff.unit import mail_view


def _load(conn, mail_id: str):
    mail = data.mail(conn, mail_id)
    if mail is None:
        return None
    return mail, data.campaign(conn, mail.campaign_id) if mail.campaign_id else None


async def view(datasette, request):
    db = await open_database(datasette, request)
    mail_id = request.url_vars["mail"]
    loaded = await read(db, _load, mail_id)
    if loaded is None:
        raise NotFound("Không tìm thấy thư này")
    mail, info = loaded
    view_of = mail_view(mail, info)
    return await render(datasette, request, "staff_mail.html", {**view_of, "v": view_of})
