"""Campaign page `/-/campaign/{id}`: one line per unit of the roster (status in words, received,
how late, what is missing, the report's file, the mail, the alerts sent), tabs by status, the
reports nobody could attribute listed apart, never counted as a unit's, and the staff decisions:
each unit's (exempt, paper copy, note) and each unattributed report's (assign, set aside) forms,
and the history of the campaign's decisions."""

from __future__ import annotations

from datetime import datetime, timezone

from pipeline.staff import data, fmt, history, present, roster
from pipeline.staff.corrections import forms
from pipeline.staff.page import found, links, macros, no_campaign, part, render
from rules.vocabulary import Status

# Tab (the `xem` argument) -> (title, which lines it keeps).
TABS = {
    "": ("Tất cả", lambda row: True),
    "chua-nop": ("Chưa nộp", lambda row: row.owing),
    "tre-han": ("Trễ hạn", lambda row: row.status == Status.LATE),
    "da-nop": ("Đã nộp", lambda row: row.submitted),
    "con-thieu": ("Nộp còn thiếu", lambda row: row.incomplete),
    "mien-nop": ("Miễn nộp", lambda row: row.status == Status.EXEMPT),
}
SHOWN_EMPTY = {"", "chua-nop", "tre-han", "da-nop", "con-thieu"}  # "Miễn nộp" only once a unit is
UNATTRIBUTED_TAB = "chua-ro"  # the anchor of the reports nobody could attribute
HISTORY_ANCHOR = "lich-su"


def _load(conn, campaign_id: str):
    info = data.campaign(conn, campaign_id)
    if info is None:
        return None
    return info, data.roster(conn, campaign_id), data.unattributed(conn, campaign_id), \
        history.history(conn, campaign_id=campaign_id)


async def view(datasette, request):
    campaign_id = request.url_vars["campaign"]
    info, rows, strays, entries = await found(datasette, request, _load, campaign_id, missing=no_campaign(campaign_id))
    tab = request.args.get("xem", "")
    if tab not in TABS:
        tab = ""
    keep = TABS[tab][1]
    now = datetime.now(timezone.utc)
    decided = history.in_force_about_units(entries)
    decide = forms(datasette, request)
    tabs = [(key, title, sum(1 for r in rows if test(r))) for key, (title, test) in TABS.items()]
    return await render(datasette, request, "staff_campaign.html", {
        "info": info,
        "deadline": fmt.deadline(info.deadline, info.tz),
        "time_left": fmt.time_left(info.deadline, now),
        "tabs": [(key, title, n) for key, title, n in tabs if n or key in SHOWN_EMPTY or key == tab],
        "tab": tab,
        "roster": part(datasette, "_intake_roster.html", rows=roster.rows(
            [present.unit_line(info, r, decided.get((info.id, r.unit_id), [])) for r in rows if keep(r)],
            links(datasette), roster.unit_forms(macros(datasette, "_intake_decide.html"), decide, info.id))),
        "strays": [(present.stray_line(info, s), s) for s in strays],
        "units": [(r.unit_id, r.unit_name) for r in rows],
        "unattributed_tab": UNATTRIBUTED_TAB,
        "history": entries,
        "history_anchor": HISTORY_ANCHOR,
        "decide": decide,
    })
