"""A campaign drafted from the call letter itself: outline, deadline, attachments, keywords.

The letter already says everything ("theo đề cương gửi kèm", "trước ngày 15/6/2022", "kèm theo quy
chế dân chủ ... và quyết định thành lập ban chỉ đạo (nếu có)"); staff should only check the draft.
Anything guessed is marked with a "# kiểm tra:" comment in the YAML. The outline is read in
`draft_outline`, the deadline in `draft_deadline`, the attachments in `draft_attachments`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import yaml

from extractors.text import fold, repair
from rules.draft_attachments import attachments as asked_attachments
from rules.draft_deadline import candidates, choose
from rules.draft_outline import heading_title, outline_nodes, outline_region, outline_start, parse_label
from rules.draft_text import doubtful_line, flat, is_caps

CHECK = "# kiểm tra:"
_RESOLUTION = re.compile(r"(Nghị quyết|Chỉ thị|Kết luận|Quy định|Kế hoạch)\s+số\s+(\d+)[-–](\w+)/([\wĐđ]+)", re.I)
_INITIALS = {"nghi quyet": "nq", "chi thi": "ct", "ket luan": "kl", "quy dinh": "qd", "ke hoach": "kh"}
_SUBJECT = re.compile(r"^\s*V/v\s+", re.I)  # "V/v báo cáo …": the letter's subject (về việc)
# where the letter points at a đề cương it does not carry: "theo đề cương chi tiết tại Phụ lục 1 gửi kèm theo"
_OUTLINE_ELSEWHERE = re.compile(r"(?:theo|tại)\s+(?:đề cương|phụ lục|mẫu)[^.;]*", re.I)


@dataclass
class Draft:
    id: str
    title: str
    deadline: datetime | None
    timezone: str
    keywords: list[str]
    outline: list[dict]  # {"key", "title", "children"}, and "check" where staff should look
    attachments: list[dict]
    units: list[dict] = field(default_factory=list)
    doubts: dict[str, str] = field(default_factory=dict)  # field → what staff should check


def _resolution(text: str) -> tuple[str | None, list[str]]:
    m = _RESOLUTION.search(" ".join(text.split()))
    if not m:
        return None, []
    kind, number, symbol, body = m.groups()
    initials = _INITIALS.get(fold(kind), fold(kind)[:2])
    full = f"{number}-{symbol}/{body}"
    names = [full, f"{kind} {number}", f"{kind} số {number}", f"{initials.upper()}{number}",
             f"{initials.upper()} {number}"]
    return f"{initials}{number}", names


def _title(outline_lines: list[str], letter: list[str], resolution: str | None) -> str:
    """The đề cương's subtitle ("Sơ kết 01 năm thực hiện …"), else a line naming the review, else the
    letter's subject ("V/v báo cáo …"), else the resolution."""
    start = outline_start(outline_lines)
    after = outline_lines[start + 1:start + 3] if start is not None else []
    named = [line for line in letter if fold(line).startswith(("so ket", "tong ket", "bao cao ket qua"))]
    for line in after + named:
        title = "" if line.startswith("(") or parse_label(line)[0] else heading_title(re.split(r",\s*ngày\b", line)[0])
        if any(c.isalpha() for c in title):
            return title
    return _subject(letter) or resolution or "Đợt báo cáo"


def _subject(lines: list[str]) -> str | None:
    """The subject line "V/v …", joined over the lines the letterhead wrapped it onto."""
    for i, line in enumerate(lines):
        if _SUBJECT.match(line):
            parts = [_SUBJECT.sub("", line)]
            for nxt in lines[i + 1:i + 4]:
                if is_caps(nxt) or re.search(r"\bngày\b.*\btháng\b|^(?:kính gửi|số)\b", nxt, re.I):
                    break
                parts.append(nxt)
            subject = " ".join(parts).strip(" .")
            return subject[:1].upper() + subject[1:]
    return None


def _lines(text: str) -> list[str]:
    return [line.strip() for line in repair(text).split("\n") if line.strip()]


def draft(text: str, timezone: str = "Asia/Ho_Chi_Minh", units: list[dict] | None = None,
          outline_text: str | None = None, scanned: bool = False, doubtful: Collection[str] = ()) -> Draft:
    """A campaign drafted from the letter's text (already repaired).

    `outline_text`: the đề cương when it is a file of its own (else it is read after the letter's
    "ĐỀ CƯƠNG" line); `scanned`: the text came from OCR (misread numbers are read from their order);
    `doubtful`: the lines OCR read with low confidence, quoted where the draft used them.
    """
    tz = ZoneInfo(timezone)
    letter = _lines(text)
    start = outline_start(letter)
    body = letter[:start] if start is not None else letter  # the letter itself, without its đề cương
    if outline_text is not None:
        outline_lines = _lines(outline_text)
        region = outline_region(outline_lines, outline_start(outline_lines))
    else:
        outline_lines = letter
        region = outline_region(letter, start) if start is not None else []
    doubts: dict[str, str] = {}
    outline = outline_nodes(region, scanned, doubtful)
    if not outline:
        doubts["outline"] = _no_outline(body) if outline_text is None and start is None else \
            "không tìm thấy mục nào có đánh số trong đề cương: điền các mục"
    deadline = _deadline(body, letter if outline_text is None else letter + outline_lines, tz, doubtful, doubts)
    short, keywords = _resolution(text)
    year = deadline.year if deadline else datetime.now(tz).year
    attachments = asked_attachments(flat(body))
    if attachments:
        doubts["attachments"] = "mã (id) và điều kiện bắt buộc được đoán từ câu «kèm theo»"
    if not units:
        doubts["units"] = "chưa có danh sách đơn vị: dùng --units hoặc điền tay"
    return Draft(id=f"{short or 'dot-bao-cao'}-{year}", title=_title(outline_lines, letter, short),
                 deadline=deadline, timezone=timezone, keywords=keywords, outline=outline,
                 attachments=attachments, units=units or [], doubts=doubts)


def pick_letter_and_outline(files: list[tuple[str, str]]) -> tuple[int, int | None]:
    """Which of a mail's files (name, text) is the letter and which its đề cương (None: none, or the
    letter carries its own). A đề cương is named so or starts with its title and greets nobody."""
    def is_outline(name: str, text: str) -> bool:
        lines = _lines(text)
        return "de cuong" in fold(name) or (outline_start(lines[:15]) is not None
                                            and not any(fold(line).startswith("kinh gui") for line in lines))

    outlines = [i for i, (name, text) in enumerate(files) if is_outline(name, text)]
    letters = [i for i in range(len(files)) if i not in outlines] or [0]
    greeting = [i for i in letters if any(fold(line).startswith(("kinh gui", "v v ")) for line in _lines(files[i][1]))]
    letter = (greeting or letters)[0]
    outline = next((i for i in outlines if i != letter), None)
    return letter, None if outline_start(_lines(files[letter][1])) is not None else outline


def _no_outline(body: list[str]) -> str:
    """Why there is no outline: the letter's own numbered paragraphs ("I. NỘI DUNG LÀM VIỆC …") are not one."""
    where = _OUTLINE_ELSEWHERE.search(flat(body))
    said = f" (công văn ghi «{where.group(0).strip(' ,')}»)" if where else ""
    return (f"công văn không kèm đề cương{said}: chạy lại với tệp đề cương, intake campaign draft CÔNG_VĂN "
            "ĐỀ_CƯƠNG, hoặc điền các mục")


def _deadline(body: list[str], everything: list[str], tz: ZoneInfo, doubtful: Collection[str],
              doubts: dict[str, str]) -> datetime | None:
    """The report's deadline from the letter (its đề cương and appendices only when the letter has none)."""
    best, others = choose(candidates(flat(body), tz) or candidates(flat(everything), tz))
    if best is None:
        doubts["deadline"] = "không tìm thấy thời hạn trong công văn: điền hạn nộp"
        return None
    notes = [f"đọc từ «{best.phrase}»"]
    if best.score <= 0:
        notes.append("câu này không nói đó là hạn gửi báo cáo")
    if others:
        notes.append("các thời hạn khác trong công văn: " + ", ".join(f"«{d.phrase}»" for d in others))
    unsure = doubtful_line(best.phrase, doubtful, context=best.clause)
    if unsure:
        notes.append(f"OCR không chắc dòng «{unsure}»")
    doubts["deadline"] = "; ".join(notes)
    return best.moment


def _flow(value) -> str:
    """One YAML value on one line (a scalar is dumped inside a list, then unwrapped: no "..." end)."""
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000).strip()
    return _flow([value])[1:-1]


def _outline_yaml(nodes: list[dict], indent: int) -> list[str]:
    out = []
    pad = " " * indent
    for node in nodes:
        check = f"  {CHECK} {node['check']}" if node.get("check") else ""
        out.append(f"{pad}- key: {_flow(node['key'])}{check}")
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
