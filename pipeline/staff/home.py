"""Home `/`: the office's name, each open campaign as a card whose numbers link to the lists they
count, closed campaigns below, one search box."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pipeline.staff import data, fmt
from pipeline.staff.page import open_database, part, read, render


@dataclass
class Card:
    info: data.CampaignInfo
    counts: data.Counts
    deadline: str
    time_left: str
    overdue: bool


def cards(conn, now: datetime) -> list[Card]:
    counts = data.counts(conn)
    return [Card(info, counts.get(info.id, data.Counts()), fmt.deadline(info.deadline, info.tz),
                 fmt.time_left(info.deadline, now), now >= datetime.fromisoformat(info.deadline))
            for info in data.campaigns(conn)]


async def view(datasette, request):
    db = await open_database(datasette, request)
    everything = await read(db, cards, datetime.now(timezone.utc))
    open_cards = [c for c in everything if not c.info.closed]
    return await render(datasette, request, "staff_home.html", {
        "open_cards": open_cards, "cards": part(datasette, "_intake_cards.html", open_cards=open_cards),
        "closed_cards": [c for c in everything if c.info.closed],
    })
