"""The đề cương of a call letter → outline nodes, numbered and nested the way administrative writing does.

Levels, highest first: "Phần thứ nhất" / "Phần I" (keyed I, II …), "I.", "1.", "1.1.", "1.1.1.", "a)", "1)".
A node hangs under the nearest open node of a higher level, so a đề cương that skips one ("Phần II"
then "1.") keeps its own nesting; "-" and "+" are guidance under a heading, never nodes. The letterhead
("V/v …", "Số: …", "Kính gửi: …"), dates and document numbers ("03-NQ/ĐUK") are never labels.

A node's title is its heading clause: up to ":", ";" or the end of its first sentence, joined over
the lines a long heading was wrapped onto, without the guidance in brackets after it; a label alone
on its line ("Phần thứ nhất") takes the line after it ("KẾT QUẢ THỰC HIỆN …") as its title.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeGuard

from extractors.numbering import split_number
from extractors.text import fold
from rules.draft_text import clean_line, doubtful_line, is_caps

# "Phần thứ nhất", "PHẦN THỨ HAI", "Phần Thứ ba", "Phần II", "Phần 1" (numbering.py knows the ordinals)
_PART = re.compile(r"^\s*phần\s+(?:thứ\s+)?([IVXL]+|\d{1,2}|[^\W\d_]+)(?![\w/])\s*[.:\-–)]?\s*", re.I)
_NOT_A_LABEL = re.compile(r"^\s*(?:[IVXL]\s*/\s*v\b|số\b|kính gửi\b|nơi nhận\b)", re.I)
_DOCUMENT_SYMBOL = re.compile(r"^[A-ZĐ]{1,8}(?:-[A-ZĐ]+)*/")  # "03-NQ/ĐUK": a number, not "3." + title
# How OCR reads bold numbers: "II." as "H.", "„." or "II", "III." as "HI." or "HIL", "I." as "1.", "9." as "9,".
_OCR_ROMAN = re.compile(r"^\s*([IVXHLl1|!„‚\"']{1,5})\s*[.,:]?\s+(?=\S)")
_OCR_ARABIC = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2})*)\s*,\s*(?=[^\W\d_])")
_RANK = {"part": 0, "roman": 1, "letter": 9, "list": 10}  # arabic: 1 + its depth ("1." 2, "1.1." 3 …), "1)" list
_TITLE_TAIL = " .,;:/-–"


@dataclass(frozen=True)
class Label:
    kind: str  # part | roman | arabic | letter | bullet
    value: int  # 0 when OCR left it unreadable: the sequence gives it
    rank: int | None  # nesting rank, lower is higher; None for a bullet
    text: str  # as written


def parse_label(line: str, scanned: bool = False) -> tuple[Label | None, str]:
    """The outline label a line starts with, and the rest; (None, line) for text. In `scanned` text a
    roman number OCR mangled has value 0 (the sequence gives it)."""
    if _NOT_A_LABEL.match(line):
        return None, line
    part = _PART.match(line)
    number = split_number(f"Phần {part.group(1)}")[0] if part else None
    if part and number:
        return Label("part", number.value, _RANK["part"], part.group(0).strip()), line[part.end():].strip()
    number, rest = split_number(line)
    if number is None or number.kind == "part":  # "Phần mở đầu", "Mục tiêu …"
        return _ocr_label(line) if scanned else (None, line)
    if number.kind == "bullet":
        return Label("bullet", 0, None, number.label), rest
    if number.kind == "arabic":
        if number.label[-1:] in "-/" and _DOCUMENT_SYMBOL.match(rest):
            return None, line
        if number.label.endswith(")"):  # "1)": a list under the numbered headings, not one of them
            return Label("arabic", number.value, _RANK["list"], number.label), rest
        depth = number.label.rstrip(".:-–/) ").count(".") + 1
        return Label("arabic", number.value, 1 + depth, number.label), rest
    if number.kind == "roman" and scanned and _roman(number.value) != number.label.rstrip(".:-–/) "):
        return Label("roman", 0, _RANK["roman"], number.label), rest  # "XLX." is no numeral anyone writes
    return Label(number.kind, number.value, _RANK[number.kind], number.label), rest


def _ocr_label(line: str) -> tuple[Label | None, str]:
    m = _OCR_ARABIC.match(line)
    if m:
        depth = m.group(1).count(".") + 1
        return Label("arabic", int(m.group(1).split(".")[-1]), 1 + depth, m.group(0).strip()), line[m.end():]
    m = _OCR_ROMAN.match(line)
    if m and not m.group(1).isdigit() and is_caps(" ".join(line[m.end():].split()[:6])):
        return Label("roman", 0, _RANK["roman"], m.group(0).strip()), line[m.end():]
    return None, line


def _read_labels(lines: list[str], scanned: bool) -> list[tuple[str, Label | None, str]]:
    """(line, label, rest) for the đề cương's lines. In a scan whose roman headings are in capitals and
    whose numbered ones are not, "1. TÌNH HÌNH …" is a bold "I." OCR read as "1."."""
    read = [(line, *parse_label(line, scanned)) for line in map(clean_line, lines) if line]
    if scanned:
        def caps_one(label: Label | None, rest: str) -> TypeGuard[Label]:
            return label is not None and label.kind == "arabic" and label.text.rstrip(".:,") == "1" and is_caps(rest)

        romans = any(label and label.kind == "roman" and is_caps(rest) for _, label, rest in read)
        numbered_caps = any(label and label.kind == "arabic" and is_caps(rest) and not caps_one(label, rest)
                            for _, label, rest in read)
        if romans and not numbered_caps:
            read = [(line, Label("roman", 0, _RANK["roman"], label.text) if caps_one(label, rest) else label, rest)
                    for line, label, rest in read]
    return read


def is_de_cuong_title(line: str) -> bool:
    """The title line the đề cương starts after: "ĐỀ CƯƠNG BÁO CÁO", "Đề cương", not a sentence about it."""
    key = fold(line)
    if not key.startswith("de cuong") or line.endswith("."):
        return False
    # in small letters, only a short title: not "đề cương gửi kèm theo …" wrapped onto a line of its own
    return is_caps(line) or (len(key.split()) <= 6 and not re.search(r"\b(?:kem|theo|tai)\b", key))


def _ends_outline(line: str) -> bool:
    """What comes after a đề cương: another appendix, a form, the recipients of a separate file."""
    key = fold(line)
    return key.startswith(("phu luc", "bieu mau", "bieu so", "mau so", "noi nhan")) and \
        (is_caps(line) or len(key.split()) <= 8)


def outline_start(lines: list[str]) -> int | None:
    """Index of the đề cương's title line, when the text has one."""
    return next((i for i, line in enumerate(lines) if is_de_cuong_title(line)), None)


def outline_region(lines: list[str], start: int | None) -> list[str]:
    """The lines of the đề cương: after its title (or from the top), up to the next appendix."""
    region = lines[start + 1:] if start is not None else lines
    end = next((i for i, line in enumerate(region) if _ends_outline(line)), len(region))
    return region[:end]


def outline_nodes(lines: list[str], scanned: bool = False, doubtful: Collection[str] = ()) -> list[dict]:
    """Nodes {"key", "title", "children"} (and "check": what staff should look at) from the đề cương's lines.

    `doubtful` are lines OCR read with low confidence; a heading read from one of them says so.
    """
    roots: list[dict] = []
    stack: list[tuple[int, dict]] = []
    last_value: dict[tuple[str, int], int] = {}  # (parent key, rank) → value of the last node there
    used: set[str] = set()  # keys given: a campaign's keys are unique
    headings: list[tuple[dict, Label, list[str]]] = []  # each node, its label, the lines of its heading
    reading: list[str] | None = None  # the heading that may go on onto the next line
    for line, label, rest in _read_labels(lines, scanned):  # a stray "|" line is no line: it ends nothing
        if label is None:
            if reading is not None and _continues(reading, line):
                reading.append(line)
            else:
                reading = None
            continue
        if label.rank is None:
            reading = None
            continue
        while stack and stack[-1][0] >= label.rank:
            stack.pop()
        parent = stack[-1][1] if stack else None
        slot = (parent["key"] if parent else "", label.rank)
        # unreadable, or read as the number before it ("III." as "II."): the next in order
        value = max(label.value, last_value.get(slot, 0) + 1)
        while (key := f"{parent['key']}.{_key(label.kind, value)}" if parent else _key(label.kind, value)) in used:
            value += 1  # another kind of number under the same heading has it ("1.1." before any "1.")
        node: dict = {"key": key, "title": "", "children": []}
        if value != label.value:
            node["check"] = f"số mục đọc là «{label.text}», lấy {_key(label.kind, value)} theo thứ tự"
        last_value[slot] = value
        used.add(key)
        (parent["children"] if parent else roots).append(node)
        stack.append((label.rank, node))
        reading = [rest] if rest else []
        headings.append((node, label, reading))
    for node, label, parts in headings:
        node["title"] = heading_title(" ".join(parts)) or label.text  # a label alone keeps its own words
        doubt = doubtful_line(" ".join([label.text, *parts]), doubtful)
        if doubt:
            node["check"] = "; ".join(x for x in (node.get("check"), f"OCR không chắc dòng «{doubt}»") if x)
    return roots


def _continues(parts: list[str], line: str) -> bool:
    """Is `line` more of the heading in `parts`: its title after a bare label, or a wrapped line?"""
    if not parts:
        return True
    text = " ".join(parts)
    if heading_end(text) is not None:
        return False
    first = line[0]
    return first.islower() or first.isdigit() or first == "(" or (is_caps(text) and is_caps(line))


def heading_end(text: str) -> int | None:
    """Where a heading clause ends: ":" or ";", or the end of its first sentence (not inside brackets,
    a time "17:00", a number "17.6.2021" or an abbreviation "TP."); None when it goes on."""
    depth = 0
    for i, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif depth:
            continue
        elif c in ":;" and not (text[i - 1:i].isdigit() and text[i + 1:i + 2].isdigit()):
            return i
        elif c in ".?!":
            after = text[i + 1:i + 3]
            if after == "" or after[0] == "/" or (after[:1] == " " and after[1:2].isupper()
                                                  and not re.search(r"(?:^|\s)[A-ZĐ]{1,3}$", text[:i])):
                return i
    return None


def heading_title(text: str) -> str:
    """The heading clause of a numbered paragraph, without bracketed guidance or closing "./."."""
    end = heading_end(text)
    title = text[:end] if end is not None else text
    while True:  # guidance in brackets at the end: "(nêu rõ …)", "(nếu có)", or one left open
        title = title.strip(_TITLE_TAIL)
        if title.endswith(")"):
            depth = 0
            for i in range(len(title) - 1, -1, -1):
                depth += {")": 1, "(": -1}.get(title[i], 0)
                if depth == 0:
                    break
            if depth:
                return title  # a ")" without its "(": not guidance
            title = title[:i]
        elif title.count("(") > title.count(")"):
            title = title[:title.rindex("(")]
        else:
            return title


def _key(kind: str, value: int) -> str:
    if kind in ("part", "roman"):
        return _roman(value)
    if kind == "letter":
        return chr(ord("a") + value - 1)
    return str(value)


def _roman(n: int) -> str:
    out = ""
    for value, digits in ((40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + digits, n - value
    return out
