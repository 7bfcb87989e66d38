"""Section page `/-/campaign/{id}/section/{key}`: the section picked from the outline's titles,
every unit's text under its name (roster order) with a link to the file, and the units that have
no such section."""

from __future__ import annotations

from datasette.utils.asgi import NotFound

from pipeline.staff import data
from pipeline.staff.page import no_campaign, open_database, part, read, render


def _load(conn, campaign_id: str, key: str):
    info = data.campaign(conn, campaign_id)
    if info is None or not any(n["key"] == key for n in info.outline):
        return info, None
    return info, data.section(conn, campaign_id, key)


async def view(datasette, request):
    db = await open_database(datasette, request)
    campaign_id, key = request.url_vars["campaign"], request.url_vars["key"]
    info, units = await read(db, _load, campaign_id, key)
    if info is None:
        raise NotFound(no_campaign(campaign_id))
    if units is None:
        raise NotFound(f"Đề cương của đợt báo cáo không có mục «{key}»")
    with_text = [u for u in units if any(p.text.strip() for p in u.parts)]
    return await render(datasette, request, "staff_section.html", {
        "info": info, "key": key, "title": info.section_title(key), "with_text": with_text,
        "texts": part(datasette, "_intake_section_texts.html", with_text=with_text, info=info, key=key),
        "without": [u for u in units if not any(p.text.strip() for p in u.parts)],
    })
