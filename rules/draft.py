"""A campaign drafted from the call letter itself: outline, deadline, attachments, keywords.

The letter already says everything ("theo đề cương gửi kèm", "trước ngày 15/6/2022", "kèm theo quy
chế dân chủ ... và quyết định thành lập ban chỉ đạo (nếu có)"); staff should only check the draft.
Anything guessed is marked with a "# kiểm tra:" comment in the YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import yaml

from extractors.numbering import split_number
from extractors.text import fold, repair

CHECK = "# kiểm tra:"
_DATE = r"(\d{1,2})\s*(?:/|-|\.|\s+tháng\s+)(\d{1,2})\s*(?:/|-|\.|\s+năm\s+)(\d{4})"
_TIME = r"(\d{1,2})\s*(?:giờ|h|g)\s*(\d{2})?(?:\s*phút)?"
# Deadline phrases, most specific first: (pattern, what the date means).
_DEADLINES = [
    (re.compile(rf"(?:trước|chậm nhất(?: là)?(?: vào)?|hạn chót)\s+(?:lúc\s+)?{_TIME}[\s,]*(?:ngày|,)?\s*{_DATE}",
                re.I), "time"),
    (re.compile(rf"chậm nhất(?: là)?(?: vào)?(?: ngày)?\s+{_DATE}", re.I), "end_of_day"),
    (re.compile(rf"(?:trước|hạn chót)\s+ngày\s+{_DATE}", re.I), "start_of_day"),
]
_DOC_TYPES = ("quyết định", "quy chế", "kế hoạch", "báo cáo", "danh sách", "biên bản", "nghị quyết", "quy định")
_VERBS = ("thanh lap", "ban hanh", "phe duyet", "kien toan", "thuc hien")
_RESOLUTION = re.compile(r"(Nghị quyết|Chỉ thị|Kết luận|Quy định|Kế hoạch)\s+số\s+(\d+)[-–](\w+)/([\wĐđ]+)", re.I)
_INITIALS = {"nghi quyet": "nq", "chi thi": "ct", "ket luan": "kl", "quy dinh": "qd", "ke hoach": "kh"}


@dataclass
class Draft:
    id: str
    title: str
    deadline: datetime | None
    timezone: str
    keywords: list[str]
    outline: list[dict]
    attachments: list[dict]
    units: list[dict] = field(default_factory=list)
    doubts: dict[str, str] = field(default_factory=dict)  # field → what staff should check


def _deadline(text: str, tz: ZoneInfo) -> tuple[datetime | None, str | None]:
    flat = " ".join(text.split())
    for pattern, meaning in _DEADLINES:
        m = pattern.search(flat)
        if not m:
            continue
        groups = [g for g in m.groups()]
        if meaning == "time":
            hour, minute, day, month, year = groups
            moment = datetime(int(year), int(month), int(day), int(hour), int(minute or 0), tzinfo=tz)
        else:
            day, month, year = groups
            moment = datetime(int(year), int(month), int(day), tzinfo=tz)
            if meaning == "end_of_day":  # "chậm nhất ngày 15/6": the 15th still counts
                moment += timedelta(days=1)
        return moment, m.group(0)
    return None, None


def _outline(lines: list[str]) -> tuple[list[dict], bool]:
    """Numbered headings after "ĐỀ CƯƠNG" (or anywhere, if the letter has no such line) → nodes."""
    start = next((i + 1 for i, line in enumerate(lines) if fold(line).startswith("de cuong")), 0)
    nodes: list[dict] = []
    path: list[dict] = []  # current node per level
    kinds: list[str] = []  # numbering kind per level, in order of first appearance
    last: dict | None = None
    for line in lines[start:]:
        number, rest = split_number(line)
        if number is None or number.kind == "bullet":
            # A heading wrapped onto the next line: "... ngày" / "17/6/2021 của Đảng ủy Khối ..."
            if last is not None and number is None and not re.search(r"[.:;)]$", last["title"]) \
                    and (line[:1].islower() or line[:1].isdigit()):
                last["title"] = f"{last['title']} {line}"
            last = None
            continue
        kind = "roman" if number.kind == "part" else number.kind
        if kind not in kinds:
            if len(kinds) == 3:
                continue
            kinds.append(kind)
        level = kinds.index(kind)
        if level > len(path):
            continue  # "a)" with no "1." above it: a list, not the outline
        key = _key(kind, number.value)
        node = {"key": key if level == 0 else f"{path[level - 1]['key']}.{key}", "title": rest, "children": []}
        (path[level - 1]["children"] if level else nodes).append(node)
        path[level:] = [node]
        last = node
    for node in _walk(nodes):
        node["title"] = _clean_title(node["title"])
    return nodes, bool(start)


def _key(kind: str, value: int) -> str:
    if kind == "roman":
        return ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"][value - 1] \
            if value <= 12 else str(value)
    if kind == "letter":
        return chr(ord("a") + value - 1)
    return str(value)


def _walk(nodes: list[dict]):
    for node in nodes:
        yield node
        yield from _walk(node["children"])


def _clean_title(title: str) -> str:
    """Guidance in brackets and the final full stop are not part of a heading."""
    title = re.sub(r"\s*\([^)]*\)\s*$", "", title.strip())
    return title.rstrip(" .;:")


def _attachments(text: str) -> list[dict]:
    flat = " ".join(text.split())
    m = re.search(r"kèm theo\s+(.+?)(?:\s+để\b|\.\s|\.$|;)", flat, re.I)
    if not m:
        return []
    result = []
    for item in re.split(r"\s+và\s+(?=" + "|".join(_DOC_TYPES) + ")", m.group(1), flags=re.I):
        item = item.strip(" ,")
        optional = bool(re.search(r"\(\s*nếu có\s*\)", item, re.I))
        title = re.sub(r"\s*\(\s*nếu có\s*\)", "", item, flags=re.I).strip(" ,")
        if not title:
            continue
        entry = {"id": _attachment_id(title), "title": title[:1].upper() + title[1:],
                 "required": "if_mentioned" if optional else True}
        if optional:
            entry["mentioned_by"] = [_mention_phrase(title)]
        result.append(entry)
    return result


def _split_type(title: str) -> tuple[str, list[str]]:
    words = fold(title).split()
    for doc_type in _DOC_TYPES:
        key = fold(doc_type).split()
        if words[:len(key)] == key:
            return "_".join(key), words[len(key):]
    return "", words


def _attachment_id(title: str) -> str:
    """"quy chế dân chủ của cơ quan, đơn vị" → quy_che_dan_chu; "quyết định thành lập ban chỉ
    đạo" → quyet_dinh_bcd: the type, then the object (initials when it is long)."""
    doc_type, rest = _split_type(title.split(" của ")[0])
    text = " ".join(rest)
    for verb in _VERBS:
        if text.startswith(verb + " "):
            text = text[len(verb) + 1:]
    obj = text.split()
    tail = "".join(w[0] for w in obj) if len(obj) > 2 else "_".join(obj)
    return "_".join(x for x in (doc_type, tail) if x) or "tai_lieu"


def _mention_phrase(title: str) -> str:
    """What a report says when the optional thing exists: the title without its document type."""
    words = title.split()
    doc_type, _ = _split_type(title)
    n = len(doc_type.split("_")) if doc_type else 0
    return " ".join(words[n:]) or title


def _resolution(text: str) -> tuple[str | None, list[str]]:
    m = _RESOLUTION.search(" ".join(text.split()))
    if not m:
        return None, []
    kind, number, symbol, body = m.groups()
    initials = _INITIALS.get(fold(kind), fold(kind)[:2])
    full = f"{number}-{symbol}/{body}"
    names = [full, f"{kind} {number}", f"{kind} số {number}", f"{initials.upper()}{number}", f"{initials.upper()} {number}"]
    return f"{initials}{number}", names


def _title(lines: list[str], resolution: str | None) -> str:
    after = next((i + 1 for i, line in enumerate(lines) if fold(line).startswith("de cuong")), None)
    candidates = lines[after:after + 2] if after is not None else []
    candidates += [line for line in lines if fold(line).startswith(("so ket", "tong ket", "bao cao ket qua"))]
    for line in candidates:
        if line and not split_number(line)[0]:
            return re.split(r",\s*ngày\b", line)[0].strip(" .")
    return resolution or "Đợt báo cáo"


def draft(text: str, timezone: str = "Asia/Ho_Chi_Minh", units: list[dict] | None = None) -> Draft:
    """A campaign drafted from the letter's text (already repaired)."""
    tz = ZoneInfo(timezone)
    lines = [line.strip() for line in repair(text).split("\n") if line.strip()]
    doubts: dict[str, str] = {}
    deadline, phrase = _deadline(text, tz)
    if deadline is None:
        doubts["deadline"] = "không tìm thấy thời hạn trong công văn: điền hạn nộp"
    else:
        doubts["deadline"] = f"đọc từ «{phrase}»"
    outline, from_de_cuong = _outline(lines)
    if not outline:
        doubts["outline"] = "không tìm thấy đề cương: điền các mục"
    elif not from_de_cuong:
        doubts["outline"] = "công văn không có dòng «ĐỀ CƯƠNG»: các mục lấy từ những dòng có đánh số"
    short, keywords = _resolution(text)
    year = deadline.year if deadline else datetime.now(tz).year
    attachments = _attachments(text)
    if attachments:
        doubts["attachments"] = "mã (id) và điều kiện bắt buộc được đoán từ câu «kèm theo»"
    if not units:
        doubts["units"] = "chưa có danh sách đơn vị: dùng --units hoặc điền tay"
    return Draft(id=f"{short or 'dot-bao-cao'}-{year}", title=_title(lines, short), deadline=deadline,
                 timezone=timezone, keywords=keywords, outline=outline, attachments=attachments,
                 units=units or [], doubts=doubts)


def _flow(value) -> str:
    """One YAML value on one line (a scalar is dumped inside a list, then unwrapped: no "..." end)."""
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000).strip()
    return _flow([value])[1:-1]


def _outline_yaml(nodes: list[dict], indent: int) -> list[str]:
    out = []
    pad = " " * indent
    for node in nodes:
        out.append(f"{pad}- key: {_flow(node['key'])}")
        out.append(f"{pad}  title: {_flow(node['title'])}")
        if node["children"]:
            out.append(f"{pad}  children:")
            out.extend(_outline_yaml(node["children"], indent + 4))
    return out


def to_yaml(d: Draft) -> str:
    """The campaign file, with "# kiểm tra:" comments where staff should look."""
    def doubt(name: str) -> str:
        return f"  {CHECK} {d.doubts[name]}" if name in d.doubts else ""

    out = [
        "# Bản nháp đợt báo cáo, lập tự động từ công văn: xem lại các dòng có «kiểm tra».",
        f"id: {_flow(d.id)}  {CHECK} mã đợt, đặt lại nếu cần",
        f"title: {_flow(d.title)}",
        f"deadline: {d.deadline.isoformat() if d.deadline else 'null'}{doubt('deadline')}",
        f"timezone: {d.timezone}",
        f"keywords: {_flow(d.keywords)}",
        f"outline:{doubt('outline')}",
        *_outline_yaml(d.outline, 2),
        f"attachments:{doubt('attachments')}" if d.attachments else "attachments: []",
        *[f"  - {_flow(a)}" for a in d.attachments],
        f"units:{doubt('units')}" if d.units else f"units: []{doubt('units')}",
        *[f"  - {_flow(u)}" for u in d.units],
    ]
    return "\n".join(out) + "\n"


def load_units(path: str) -> list[dict]:
    """Units from a CSV (id,name,emails with emails separated by ; or space) or a YAML file."""
    import csv

    if path.lower().endswith(".csv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            return [{"id": row["id"].strip(), "name": row["name"].strip(),
                     "emails": [e for e in re.split(r"[;\s,]+", row.get("emails") or "") if e]}
                    for row in csv.DictReader(f)]
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    return data.get("units", []) if isinstance(data, dict) else data or []
