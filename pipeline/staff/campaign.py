"""Campaign page `/-/campaign/{id}`: one line per unit of the roster (status in words, received,
how late, what is missing, the report's file, the mail, the alerts sent), tabs by status, and the
reports nobody could attribute listed apart, never counted as a unit's."""

from __future__ import annotations

from datetime import datetime, timezone

from datasette.utils.asgi import NotFound

from pipeline.staff import data, fmt, present
from pipeline.staff.page import open_database, part, read, render
from rules.vocabulary import Status

# Tab (the `xem` argument) -> (title, which lines it keeps).
TABS = {
    "": ("Tất cả", lambda row: True),
    "chua-nop": ("Chưa nộp", lambda row: not row.submitted),
    "tre-han": ("Trễ hạn", lambda row: row.status == Status.LATE),
    "da-nop": ("Đã nộp", lambda row: row.submitted),
    "con-thieu": ("Nộp còn thiếu", lambda row: row.incomplete),
}
UNATTRIBUTED_TAB = "chua-ro"  # the anchor of the reports nobody could attribute


def _load(conn, campaign_id: str):
    info = data.campaign(conn, campaign_id)
    if info is None:
        return None
    return info, data.roster(conn, campaign_id), data.unattributed(conn, campaign_id)


async def view(datasette, request):
    db = await open_database(datasette, request)
    campaign_id = request.url_vars["campaign"]
    loaded = await read(db, _load, campaign_id)
    if loaded is None:
        raise NotFound(f"Không có đợt báo cáo «{campaign_id}»")
    info, rows, strays = loaded
    tab = request.args.get("xem", "")
    if tab not in TABS:
        tab = ""
    keep = TABS[tab][1]
    now = datetime.now(timezone.utc)
    return await render(datasette, request, "staff_campaign.html", {
        "info": info,
        "deadline": fmt.deadline(info.deadline, info.tz),
        "time_left": fmt.time_left(info.deadline, now),
        "tabs": [(key, title, sum(1 for r in rows if test(r))) for key, (title, test) in TABS.items()],
        "tab": tab,
        "roster": part(datasette, "_intake_roster.html", lines=[present.unit_line(info, r) for r in rows if keep(r)]),
        "strays": [present.stray_line(info, s) for s in strays],
        "unattributed_tab": UNATTRIBUTED_TAB,
        "units": len(rows),
    })
