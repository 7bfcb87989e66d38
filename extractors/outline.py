"""Outline alignment: which block starts which section of the campaign's outline.

Every body block is scored as a possible heading for every outline node (folded token similarity,
numbering agreeing with the node's level and position, heading signals). Then a dynamic program
picks the best monotone assignment of nodes to blocks in document order, letting nodes be missing
and blocks be ordinary text. Headings of the outline's top-level form that the outline lacks
("IV. PHƯƠNG HƯỚNG...") become extra sections, and the closing part (closing sentence, signature,
"Nơi nhận") is cut off the last section.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from extractors.model import Block, OutlineNode, Section
from extractors.numbering import Number, key_number, split_number
from extractors.text import fold, tokens

MIN_SCORE = 0.5  # below this a block is not taken as a node's heading
LOW_CONFIDENCE = 0.65  # sections found with less than this are flagged for staff to check
_MAX_HEADING_TOKENS = 40

# The closing part of a Vietnamese administrative document, by folded prefix.
_TAIL_PREFIXES = ("tren day la", "noi nhan", "t m ", "k t ", "t l ", "tm ", "kt ", "tl ", "thay mat ")
_TAIL_RAW = re.compile(r"^\s*(T/M|K/T|T/L|TM\.|KT\.|TL\.)\s", re.IGNORECASE)


@dataclass
class Candidate:
    number: Number | None
    heading_tokens: list[str]  # folded tokens of the heading part
    rest: str  # text after the heading on the same line (inline headings), display form
    heading: str  # the heading as written
    signals: float  # 0..1 heading-likeness from style, bold, caps, length


def is_tail(block: Block) -> bool:
    """Closing sentence, "Nơi nhận" or a signature line: the end of the document's body."""
    key = fold(block.text)
    return key.startswith(_TAIL_PREFIXES) or bool(_TAIL_RAW.match(block.text))


def _split_inline(text: str, n_title: int) -> tuple[str, str]:
    """Split "Đặc điểm tình hình: Đảng bộ có ..." into the heading and the text that follows it.
    A colon always ends a heading; a full stop or dash only in a paragraph too long to be one."""
    long = len(text.split()) > n_title + 6
    for sep in (":", ". ", " - ", " – ") if long else (":",):
        idx = text.find(sep)
        if 0 < idx and len(text[:idx].split()) <= n_title + 6 and text[idx + len(sep):].strip():
            return text[:idx].strip(), text[idx + len(sep):].strip()
    return text, ""


def candidate(block: Block, n_title_max: int) -> Candidate:
    text = block.full_text
    number, rest = split_number(text)
    heading, inline = _split_inline(rest, n_title_max)
    signals = 0.0
    if block.bold:
        signals += 0.5
    if block.outline_level is not None or (block.style or "").lower().startswith(("heading", "title")):
        signals += 0.6
    letters = [c for c in heading if c.isalpha()]
    if block.caps or (len(letters) >= 3 and all(c.isupper() for c in letters)):
        signals += 0.3
    if len(heading.split()) <= _MAX_HEADING_TOKENS:
        signals += 0.1
    return Candidate(number, tokens(heading), inline, f"{number.label} {heading}".strip() if number else heading,
                     min(signals, 1.0))


def _similarity(heading: list[str], title: list[str]) -> float:
    """Token overlap that forgives rewording and extra words around the title."""
    if not heading or not title:
        return 0.0
    common = sum((Counter(heading) & Counter(title)).values())
    recall = common / len(title)
    precision = common / len(heading)
    f1 = 2 * recall * precision / (recall + precision) if common else 0.0
    return max(f1, recall * 0.9 if len(heading) <= 2 * len(title) + 3 else recall * 0.6)


def score(cand: Candidate, node: OutlineNode, title_tokens: list[str]) -> float:
    if cand.number and cand.number.kind == "bullet":
        return 0.0  # bullet points are list items, never outline headings
    sim = _similarity(cand.heading_tokens, title_tokens)
    expected = key_number(node.key)
    num = 0.0
    if cand.number:
        kind = "roman" if cand.number.kind == "part" else cand.number.kind
        if kind == expected.kind:
            num = 0.3 if cand.number.value == expected.value else 0.1
        else:
            num = -0.15
    elif node.level == 0 and expected.kind == "roman":
        num = -0.05
    total = 0.65 * sim + num + 0.2 * cand.signals
    if sim < 0.3:  # numbering and bold alone do not make a heading of this node
        total = min(total, 0.3 + 0.4 * sim)
    return max(0.0, min(1.0, total))


def align(blocks: list[Block], outline: list[OutlineNode]) -> tuple[list[tuple[int, int, float]], list[Candidate]]:
    """Best monotone assignment [(node index, block index, score)], nodes may be left out; and the
    heading candidates of every block."""
    titles = [tokens(n.title) for n in outline]
    n_title_max = max((len(t) for t in titles), default=8)
    cands = [candidate(b, n_title_max) for b in blocks]
    K, M = len(outline), len(blocks)
    gain = [[score(cands[j], outline[i], titles[i]) for j in range(M)] for i in range(K)]
    # best[i][j]: best total using nodes < i and blocks < j.
    best = [[0.0] * (M + 1) for _ in range(K + 1)]
    choice = [[0] * (M + 1) for _ in range(K + 1)]  # 0 skip node, 1 skip block, 2 match
    for i in range(1, K + 1):
        for j in range(1, M + 1):
            options = [(best[i - 1][j], 0), (best[i][j - 1], 1)]
            g = gain[i - 1][j - 1]
            if g >= MIN_SCORE:
                options.append((best[i - 1][j - 1] + g, 2))
            best[i][j], choice[i][j] = max(options, key=lambda o: o[0])
    pairs = []
    i, j = K, M
    while i > 0 and j > 0:
        c = choice[i][j]
        if c == 2:
            pairs.append((i - 1, j - 1, gain[i - 1][j - 1]))
            i, j = i - 1, j - 1
        elif c == 0:
            i -= 1
        else:
            j -= 1
    return pairs[::-1], cands


def _top_level_kind(outline: list[OutlineNode]) -> str | None:
    kinds = {key_number(n.key).kind for n in outline if n.level == 0}
    return kinds.pop() if len(kinds) == 1 else None


def sections(blocks: list[Block], outline: list[OutlineNode]) -> tuple[list[Section], list[str]]:
    """Cut the body blocks into the outline's sections; return (sections, missing keys)."""
    if not outline:
        return [], []
    pairs, cands = align(blocks, outline)
    starts = {j: (i, s) for i, j, s in pairs}
    first = min(starts) if starts else len(blocks)
    top_kind = _top_level_kind(outline)
    last_top = max((j for i, j, _ in pairs if outline[i].level == 0), default=first)
    # Extra headings of the outline's top-level form close the section before them.
    extras = []
    for j in range(first + 1, len(blocks)):
        c = cands[j]
        if j in starts or not c.number or top_kind is None:
            continue
        kind = "roman" if c.number.kind == "part" else c.number.kind
        if kind == top_kind and c.signals >= 0.5 and j > last_top and len(c.heading_tokens) <= _MAX_HEADING_TOKENS:
            extras.append(j)
    boundaries = sorted(set(starts) | set(extras))
    tail = next((j for j in range(boundaries[-1] + 1 if boundaries else first, len(blocks)) if is_tail(blocks[j])),
                len(blocks))
    result: list[Section] = []
    for n, j in enumerate(boundaries):
        end = boundaries[n + 1] if n + 1 < len(boundaries) else tail
        body = _join(blocks[j + 1:end])
        inline = cands[j].rest
        text = "\n".join(t for t in (inline, body) if t)
        if j in starts:
            i, s = starts[j]
            result.append(Section(outline[i].key, cands[j].heading, text, round(s, 3)))
        else:
            n_extra = sum(s.extra for s in result) + 1
            result.append(Section(f"+{n_extra}", cands[j].heading, text, 0.0, extra=True))
    found = {s.key: s for s in result}
    missing = []
    for node in outline:
        sec = found.get(node.key)
        has_children = any(n.parent == node.key for n in outline)
        children_found = any(n.parent == node.key and n.key in found for n in outline)
        if sec is None and not children_found:
            missing.append(node.key)
        elif sec is not None and not sec.text.strip() and not has_children:
            missing.append(node.key)  # a heading with nothing under it is as good as missing
    return result, missing


def _join(blocks: list[Block]) -> str:
    """Section text: one line per paragraph, the cells of one table row on one line."""
    lines: list[str] = []
    last_row = None
    for b in blocks:
        row = b.cell[:2] if b.cell else None
        if row is not None and row == last_row and lines:
            lines[-1] = f"{lines[-1]} {b.full_text}"
        else:
            lines.append(b.full_text)
        last_row = row
    return "\n".join(line for line in lines if line.strip())
