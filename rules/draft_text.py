"""What the draft modules share about a letter's text: its clauses, capitals, and OCR's stray lines."""

from __future__ import annotations

import re
from collections.abc import Collection

from extractors.text import fold

SENDING = re.compile(r"\b(?:gui|nop)\b")  # "gửi", "nộp" in a folded text: sending (the report)
_OCR_EDGE = re.compile(r"^[|¦_~¬`]+\s*|\s*[|¦_~¬`]+$")  # a table rule or the scan's edge read as text
_STOP = re.compile(r"[.;?!]\s+")
_ABBREVIATION = re.compile(r"(?:^|\s)[A-ZĐ]{1,3}$")  # "TP. Hà Nội", "KT. Bộ trưởng"
_LABEL_ONLY = re.compile(r"^[\dIVX.]{1,6}$")  # "2. Cập nhật …": the number of a list item


def clean_line(line: str) -> str:
    """A line without the "|" and "_" that OCR makes of rules and edges ("" when nothing else is left)."""
    line = _OCR_EDGE.sub("", line.strip())
    return line if any(c.isalnum() for c in line) else ""


def is_caps(text: str) -> bool:
    """Written in capitals (a heading), judged on its letters."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and sum(c.isupper() for c in letters) >= 0.9 * len(letters)


def flat(lines: list[str]) -> str:
    """The lines as one text: a sentence broken over lines (a .txt letter, a PDF) is whole again."""
    return " ".join(" ".join(lines).split())


def clauses(text: str) -> list[str]:
    """The text cut into sentences and ";"-clauses, each of which says one thing. A sentence ends at
    ".", "?" or "!" before a capital, a digit or a bullet ("… 2025. 3. Cử …"), not after an
    abbreviation in capitals."""
    out, start = [], 0
    for m in _STOP.finditer(text):
        after = text[m.end():m.end() + 1]
        if m.group(0)[0] != ";" and not (after.isupper() or after.isdigit() or after in "-–+("):
            continue
        if m.group(0)[0] == "." and (_ABBREVIATION.search(text[start:m.start()])
                                     or _LABEL_ONLY.match(text[start:m.start()])):
            continue
        out.append(text[start:m.start() + 1].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [c for c in out if c]


def doubtful_line(text: str, doubtful: Collection[str], context: str | None = None) -> str | None:
    """The first line OCR was unsure of that `text` was read from: a line inside it (or holding it), or
    with `context`, the paragraph `text` stands in, a line of that paragraph overlapping `text`."""
    key = fold(text)
    whole = fold(context) if context is not None else key
    start = whole.find(key)
    for line in doubtful:
        line_key = fold(line)
        if len(line_key.split()) < 2:
            continue
        at = whole.find(line_key)
        if at >= 0 and (context is None or (start >= 0 and at < start + len(key) and start < at + len(line_key))):
            return line
        if context is None and key and key in line_key:
            return line
    return None
