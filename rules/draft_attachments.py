"""The attachments a letter asks units to send with their report, and only those.

Asked for: "gửi kèm (theo) báo cáo …", "báo cáo gửi về … kèm theo …", "kèm theo … để tổng hợp",
"lập / gửi Phụ lục … (nếu có)". Not asked for: "… ban hành kèm theo Quyết định …", "kèm theo Công văn
này", "(Kèm theo Công văn số …)", "theo đề cương gửi kèm": those are papers of the letter itself.
"""

from __future__ import annotations

import re

from extractors.text import fold
from rules.draft_text import SENDING, clauses

DOC_TYPES = ("quyết định", "quy chế", "kế hoạch", "báo cáo", "danh sách", "danh mục", "biên bản", "nghị quyết",
             "quy định", "văn bản", "phụ lục", "biểu mẫu", "bảng tổng hợp", "tài liệu", "chương trình")
_VERBS = ("thanh lap", "ban hanh", "phe duyet", "kien toan", "thuc hien")
_ARTICLES = ("cac ", "nhung ")
_ITEMS_END = r"(?=\s+(?:để|qua|trước|đồng thời|chậm nhất)\b|[.;]|$)"
_REQUESTS = [
    re.compile(rf"gửi kèm(?: theo)? báo cáo(?:\s+(?:là|gồm))?\s*:?\s+(?P<items>.+?){_ITEMS_END}", re.I),
    re.compile(r"(?<!ban hành )kèm theo\s+(?P<items>.+?)(?=\s+để tổng hợp)", re.I),
    re.compile(rf"(?:lập|gửi|xây dựng)\s+(?P<items>phụ lục\b.+?(?:\(\s*nếu có\s*\)|{_ITEMS_END}))", re.I),
]
_WITH_THE_REPORT = re.compile(rf"(?<!ban hành )kèm theo\s+(?!báo cáo\b)(?P<items>.+?){_ITEMS_END}", re.I)
_NOT_ASKED = re.compile(r"(?:^|\bkem theo )(?:cong van|van ban|quyet dinh|ke hoach|thong bao|huong dan) "
                        r"(?:nay|so)\b|\bde cuong\b")
_OPTIONAL = re.compile(r"\(\s*nếu có\s*\)", re.I)
_SPLIT = re.compile(r"\s*(?:,|;|\bvà)\s+(?=(?:các\s+|những\s+)?(?:" + "|".join(DOC_TYPES) + r")\b)", re.I)


def attachments(text: str) -> list[dict]:
    """{"id", "title", "required" (True or "if_mentioned"), "mentioned_by"} per paper asked for."""
    result: dict[str, dict] = {}
    for clause in clauses(text):
        key = fold(clause)
        sends_report = "bao cao" in key and SENDING.search(key)
        patterns = _REQUESTS + ([_WITH_THE_REPORT] if sends_report else [])
        for pattern in patterns:
            for m in pattern.finditer(clause):
                for item in _SPLIT.split(m.group("items")):
                    entry = _entry(item)
                    if entry and entry["id"] not in result:
                        result[entry["id"]] = entry
    return list(result.values())


def _entry(item: str) -> dict | None:
    optional = bool(_OPTIONAL.search(item))
    title = _OPTIONAL.sub("", item).strip(" ,:")
    if not title or _NOT_ASKED.search(fold(title)):
        return None
    entry: dict[str, str | bool | list[str]] = {"id": attachment_id(title), "title": title[:1].upper() + title[1:],
             "required": "if_mentioned" if optional else True}
    if optional:
        entry["mentioned_by"] = [mention_phrase(title)]
    return entry


def _without_article(key: str) -> str:
    """A folded text without its plural article: "cac van ban …" → "van ban …"."""
    return next((key[len(a):] for a in _ARTICLES if key.startswith(a)), key)


def _split_type(title: str) -> tuple[str, list[str]]:
    words = _without_article(fold(title)).split()
    for doc_type in DOC_TYPES:
        key = fold(doc_type).split()
        if words[:len(key)] == key:
            return "_".join(key), words[len(key):]
    return "", words


def attachment_id(title: str) -> str:
    """"quy chế dân chủ của cơ quan, đơn vị" → quy_che_dan_chu; "quyết định thành lập ban chỉ
    đạo" → quyet_dinh_bcd: the type, then the object (initials of up to five words when it is long)."""
    doc_type, rest = _split_type(title.split(" của ")[0])
    text = " ".join(rest)
    for verb in _VERBS:
        if text.startswith(verb + " "):
            text = text[len(verb) + 1:]
    obj = _without_article(text).split()
    tail = "".join(w[0] for w in obj[:5]) if len(obj) > 2 else "_".join(obj)
    return "_".join(x for x in (doc_type, tail) if x) or "tai_lieu"


def mention_phrase(title: str) -> str:
    """What a report says when the optional paper exists: the title without its type and owner
    ("kế hoạch tổ chức hội nghị sơ kết của cấp ủy" → "tổ chức hội nghị sơ kết")."""
    words = title.split(" của ")[0].split()
    if words and _without_article(fold(words[0]) + " ") == "":
        words = words[1:]
    doc_type, _ = _split_type(" ".join(words))
    n = len(doc_type.split("_")) if doc_type else 0
    return " ".join(words[n:]) or title
