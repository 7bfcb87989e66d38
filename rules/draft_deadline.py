"""The report's own deadline among a letter's dates: the one tied to sending the report.

"Báo cáo gửi về Sở Nội vụ trước ngày 30/11/2025" is the report's; "cập nhật tài liệu kiểm chứng lên
Phần mềm … trước 17 giờ 00 phút, ngày 05/12/2025" is an upload's, "tổ chức vào ngày 25/12/2025" a
meeting's. Every deadline phrase of the letter is a candidate, scored by the clause it stands in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from extractors.text import fold
from rules.draft_text import SENDING, clauses

_DATE = r"(\d{1,2})\s*(?:/|-|\.|\s+tháng\s+)(\d{1,2})\s*(?:/|-|\.|\s+năm\s+)(\d{4})"
_TIME = r"(\d{1,2})\s*(?:giờ|h|g)\s*(\d{2})?(?:\s*phút)?'?"
# "trước" as OCR reads it in bold or italics: "#ước"; not "nước"
_BEFORE = r"(?<!\w)(?:tr|[^\w\s]{1,2})?ước"
_LATEST = r"chậm nhất(?: là)?(?: vào)?(?: trước)?"
# (pattern, what the date means), most specific first: a phrase inside one already found is not another
_PHRASES = [
    (re.compile(rf"(?:{_BEFORE}|{_LATEST}|hạn chót)\s+(?:lúc\s+)?{_TIME}[\s,]*(?:ngày|,)?\s*{_DATE}", re.I), "time"),
    (re.compile(rf"{_LATEST}(?: ngày)?\s+{_DATE}", re.I), "end_of_day"),
    (re.compile(rf"(?:{_BEFORE}|hạn chót)\s+ngày\s+{_DATE}", re.I), "start_of_day"),
]
# what a date in such a clause is for, when it is not the report: evidence, software, meetings
_OTHER_BUSINESS = re.compile(r"\b(?:minh chung|kiem chung|phan mem|cap nhat|tai len|dang ky|du hop|hoi nghi|"
                             r"tap huan|cuoc hop|lam viec voi)\b")


@dataclass(frozen=True)
class Deadline:
    moment: datetime
    phrase: str  # as the letter writes it
    clause: str  # the sentence or ";"-clause it stands in
    score: int  # how clearly the clause ties it to sending the report


def candidates(text: str, tz: ZoneInfo) -> list[Deadline]:
    """Every deadline phrase of the text, in the order written."""
    found: list[Deadline] = []
    for clause in clauses(text):
        spans: list[tuple[int, int, datetime, str]] = []
        for pattern, meaning in _PHRASES:
            for m in pattern.finditer(clause):
                moment = _moment(m.groups(), meaning, tz)
                if moment and not any(a < m.end() and m.start() < b for a, b, *_ in spans):
                    spans.append((*m.span(), moment, m.group(0)))
        previous_end = 0
        for _start, end, moment, phrase in sorted(spans):
            found.append(Deadline(moment, phrase, clause, _score(clause[:end], clause[previous_end:end])))
            previous_end = end
    return found


def _moment(groups: tuple, meaning: str, tz: ZoneInfo) -> datetime | None:
    try:
        if meaning == "time":
            hour, minute, day, month, year = groups
            return datetime(int(year), int(month), int(day), int(hour), int(minute or 0), tzinfo=tz)
        day, month, year = groups
        moment = datetime(int(year), int(month), int(day), tzinfo=tz)
    except ValueError:  # "31/6", "25 giờ": not a date
        return None
    return moment + timedelta(days=1) if meaning == "end_of_day" else moment  # "chậm nhất ngày 15/6": the 15th counts


def _score(before: str, own: str) -> int:
    """Sending the report said before the date in its clause; other business said since the date before it
    ("báo cáo gửi về … trước ngày 30/11, đồng thời cập nhật lên phần mềm trước ngày 05/12")."""
    key = fold(before)
    score = 2 * ("bao cao" in key) + bool(SENDING.search(key))
    return score - 3 if _OTHER_BUSINESS.search(fold(own)) else score


def choose(found: list[Deadline]) -> tuple[Deadline | None, list[Deadline]]:
    """The report's deadline, and the other dates that could be it (for staff to check)."""
    if not found:
        return None, []
    best = max(found, key=lambda d: d.score)  # the first of the best: max keeps the earliest
    rivals = [d for d in found if d.moment != best.moment and (d.score > 0 or best.score <= 0)]
    unique = list({d.moment: d for d in reversed(rivals)}.values())[::-1]
    return best, unique
