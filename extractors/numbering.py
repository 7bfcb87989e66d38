"""Heading numbers as Vietnamese documents write them: "I.", "II -", "III/", "1.", "2)", "a)", "Phần I"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from extractors.text import fold

_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50}
_ORDINALS = {"nhat": 1, "mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8}

# A number, then a separator, then the title: "II. ĐÁNH GIÁ", "2.Việc lãnh đạo", "1) Ưu điểm", "I - ...".
# A bare number followed by text without a separator ("2 đồng chí") is not a heading number.
_LABEL = re.compile(
    r"^\s*(?:(?P<part>Phần|PHẦN|Mục|MỤC)\s+(?:thứ\s+|THỨ\s+)?(?P<partnum>[IVXL]+|\d+|\w+)\s*[.:\-–/)]?\s*"
    r"|(?P<roman>[IVXL]{1,5})(?:\s*[.:\-–/)]\s*|(?P<rsep>\s+)(?=[^\W\d_]))"
    r"|(?P<arabic>\d{1,2}(?:\.\d{1,2})*)(?:\s*[.:\-–/)]\s*|(?P<asep>\s*)(?=[^\W\d_]))"
    r"|(?P<letter>[a-zđ])\s*[).]\s+"
    r"|(?P<bullet>[-–•+*·▪◦●])\s+)"
)


_DIGIT_GROUPS = re.compile(r"\d+")
# How deep each kind sits in a document's numbering, outermost first: "Phần I"/"I." 0, then "1." 1,
# "1.1." 2, "1.1.1." 3 (one per digit group), then "a)", then "-", "+".
_LETTER_RANK, _BULLET_RANK = 10, 20


@dataclass(frozen=True)
class Number:
    kind: str  # roman | arabic | letter | bullet | part
    value: int  # 0 for bullets
    label: str  # as written, e.g. "II."

    @property
    def rank(self) -> int:
        """Depth in the document's numbering: "I." 0, "2." 1, "2.1." 2, "2.1.1." 3, "a)" 10, "-" 20."""
        if self.kind == "arabic":
            return len(_DIGIT_GROUPS.findall(self.label))
        return {"letter": _LETTER_RANK, "bullet": _BULLET_RANK}.get(self.kind, 0)


def roman_value(text: str) -> int | None:
    text = text.upper()
    if not text or any(c not in _ROMAN for c in text):
        return None
    total = 0
    for i, c in enumerate(text):
        v = _ROMAN[c]
        total += -v if i + 1 < len(text) and _ROMAN[text[i + 1]] > v else v
    return total


def split_number(text: str) -> tuple[Number | None, str]:
    """Split a leading heading number off a line; return (number, rest)."""
    m = _LABEL.match(text)
    if not m:
        return None, text
    rest = text[m.end():].strip()
    label = text[: m.end()].strip()
    # Without a separator only a capital may follow: "I TÌNH HÌNH", "1Đặc điểm", not "2 đồng chí".
    if (m.group("rsep") is not None or m.group("asep") is not None) and not rest[:1].isupper():
        return None, text
    # A date or a fraction is not a heading number: "17/6/2021 của ...", "15-6-2022".
    if m.group("arabic") and rest[:1].isdigit() and label[-1:] in "/-.–":
        return None, text
    if m.group("roman"):
        value = roman_value(m.group("roman"))
        return (Number("roman", value, label), rest) if value else (None, text)
    if m.group("arabic"):
        value = int(m.group("arabic").split(".")[-1])
        if value == 0:
            return None, text
        return Number("arabic", value, label), rest
    if m.group("letter"):
        return Number("letter", ord(m.group("letter")) - ord("a") + 1, label), rest
    if m.group("bullet"):
        return Number("bullet", 0, label), rest
    part = m.group("partnum")
    value = roman_value(part) or (int(part) if part.isdigit() else _ORDINALS.get(fold(part)))
    if not value:
        return None, text
    return Number("part", value, label), rest


@lru_cache(maxsize=1024)  # asked for every block against every outline node
def key_number(key: str) -> Number:
    """What number an outline key expects: "II" → roman 2, "II.3" → arabic 3, "II.3.a" → letter 1."""
    last = key.split(".")[-1]
    if last.isdigit():
        return Number("arabic", int(last), last)
    value = roman_value(last)
    if value:
        return Number("roman", value, last)
    if len(last) == 1 and last.isalpha():
        return Number("letter", ord(last.lower()) - ord("a") + 1, last)
    return Number("other", 0, last)
