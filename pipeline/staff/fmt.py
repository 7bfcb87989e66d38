"""Dates, durations and numbers as Vietnamese staff write them: 16/06/2022 08:40 in the campaign's
time zone, "trễ 1 ngày 8 giờ", "quá hạn 3 ngày", decimal commas."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None, fallback: datetime | None = None) -> tzinfo:
    """The campaign's time zone; without a known name, the offset its deadline was written with."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if fallback is not None and fallback.tzinfo is not None:
        return fallback.tzinfo
    return ZoneInfo("Asia/Ho_Chi_Minh")


def parse(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


_TYPED = re.compile(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ ,]+(\d{1,2})\s*[:hg]\s*(\d{2})?\s*(?:phút)?)?\s*")


def typed(text: str) -> datetime | None:
    """A moment as staff type it: "14/06/2022 09:30", "14/6/2022 9h30", "14-6-2022" (midnight),
    as a naive date-time (in the campaign's zone); None when it is not one."""
    found = _TYPED.fullmatch(text or "")
    if not found:
        return None
    day, month, year, hour, minute = (int(g) if g else 0 for g in found.groups())
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        return None


def moment(value: str | datetime | None, tz: tzinfo) -> str:
    """"16/06/2022 08:40" (empty when unknown)."""
    when = parse(value)
    return when.astimezone(tz).strftime("%d/%m/%Y %H:%M") if when else ""


def day(value: str | datetime | None, tz: tzinfo) -> str:
    """"15/06/2022"."""
    when = parse(value)
    return when.astimezone(tz).strftime("%d/%m/%Y") if when else ""


def local(value: str | datetime | None, tz: tzinfo) -> datetime | None:
    """The moment as a naive date-time in the campaign's zone (what a spreadsheet cell holds)."""
    when = parse(value)
    return when.astimezone(tz).replace(tzinfo=None) if when else None


def duration(delta: timedelta) -> str:
    """"1 ngày 8 giờ", "5 giờ 20 phút", "40 phút": the two largest units that are not zero."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} ngày"] if days else []
    if hours:
        parts.append(f"{hours} giờ")
    if mins and not days:
        parts.append(f"{mins} phút")
    return " ".join(parts[:2]) or "dưới 1 phút"


def lateness(received: str | datetime | None, deadline: str | datetime | None) -> str:
    """"trễ 1 ngày 8 giờ" for a report received after the deadline, else ""."""
    got, due = parse(received), parse(deadline)
    if not got or not due or got < due:
        return ""
    return f"trễ {duration(got - due)}"


def time_left(deadline: str | datetime | None, now: datetime) -> str:
    """"còn 3 ngày", "còn 5 giờ", "quá hạn 2 ngày"."""
    due = parse(deadline)
    if not due:
        return ""
    if now < due:
        left = due - now
        return f"còn {left.days} ngày" if left.days else f"còn {duration(left)}"
    past = now - due
    return f"quá hạn {past.days} ngày" if past.days else f"quá hạn {duration(past)}"


def number(value: float | int | None, digits: int = 1) -> str:
    """1234.5 → "1.234,5": dots between thousands, a comma before the decimals."""
    if value is None:
        return ""
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def deadline(value: str | datetime | None, tz: tzinfo) -> str:
    """A deadline is the first instant that is late: "trước ngày 15/06/2022" when it is midnight,
    else "trước 17:00 ngày 15/06/2022"."""
    when = parse(value)
    if not when:
        return ""
    when = when.astimezone(tz)
    if (when.hour, when.minute) == (0, 0):
        return f"trước ngày {when:%d/%m/%Y}"
    return f"trước {when:%H:%M} ngày {when:%d/%m/%Y}"


def size(n: int) -> str:
    """A file size in words: "12,5 KB", "3,1 MB"."""
    if n < 1024:
        return f"{n} byte"
    if n < 1024 * 1024:
        return f"{number(n / 1024)} KB"
    return f"{number(n / 1024 / 1024)} MB"
