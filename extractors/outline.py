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
from dataclasses import dataclass, field, replace
from functools import lru_cache

from extractors.abbreviations import expand
from extractors.model import Block, OutlineNode, Section
from extractors.numbering import Number, key_number, split_number
from extractors.text import fold, tokens

MIN_SCORE = 0.5  # below this a block is not taken as a node's heading
LOW_CONFIDENCE = 0.65  # sections found with less than this are flagged for staff to check
_MAX_HEADING_TOKENS = 40
_WORDING_MIN = 0.3  # below this similarity a line is not worded like the node's title

# The closing part of a Vietnamese administrative document, by folded prefix.
_TAIL_PREFIXES = ("tren day la", "noi nhan", "t m ", "k t ", "t l ", "tm ", "kt ", "tl ", "thay mat ")
_TAIL_RAW = re.compile(r"^\s*(T/M|K/T|T/L|TM\.|KT\.|TL\.)\s", re.IGNORECASE)
# What a signer signs as, on a line of its own in the signature block (folded).
SIGNER_TITLES = ("bi thu", "pho bi thu", "giam doc", "pho giam doc", "chu tich", "pho chu tich", "truong ban",
                 "pho truong ban", "chanh van phong", "thu truong", "truong phong", "uy vien")
# The text of a document ends with "./." (Nghị định 30/2020/NĐ-CP, Phụ lục I).
_END_MARK = re.compile(r"\.\s*/\s*\.?\s*$")
# A closing sentence by its form: the issuer reports to the recipient ("UBND tỉnh ... báo cáo Bộ Nội vụ
# ./.", "... kính báo cáo./."), on folded words with abbreviations written out; "để báo cáo Bộ" asks
# someone else to.
_REPORTS_TO = re.compile(
    r"\b(?:kinh|tran trong|xin) bao cao\b|(?<!\bde )\bbao cao (?:bo|ban|uy ban|hoi dong|dang uy|tinh uy|thanh uy"
    r"|huyen uy|thuong truc|chu tich|cap tren|lanh dao|dong chi|van phong|thu tuong|chinh phu|trung uong)\b")
_CLOSING_MAX_WORDS = 60


@dataclass(frozen=True)
class Wording:
    """The folded words of a heading or a title (abbreviations written out), counted once for the
    many comparisons each takes part in."""

    words: tuple[str, ...]
    counts: dict[str, int] = field(compare=False)
    repeats: bool = field(compare=False)  # some word comes twice

    @classmethod
    def of(cls, text: str) -> Wording:
        found = tuple(words(text))
        counts = dict(Counter(found))
        return cls(found, counts, len(counts) < len(found))

    def common(self, other: Wording) -> int:
        """How many words the two have in common, counted with repeats (a multiset intersection)."""
        if not (self.repeats or other.repeats):  # the usual case: a set intersection, in C
            return len(self.counts.keys() & other.counts.keys())
        mine, theirs = self.counts, other.counts
        return sum(min(mine[word], theirs[word]) for word in mine.keys() & theirs.keys())


@dataclass(frozen=True)
class Candidate:
    number: Number | None
    wording: Wording  # of the heading part
    rest: str  # text after the heading on the same line (inline headings), display form
    heading: str  # the heading as written
    signals: float  # 0..1 heading-likeness from style, bold, caps, length


def is_tail(block: Block) -> bool:
    """Closing sentence, "Nơi nhận" or a signature line: the end of the document's body."""
    key = fold(block.text)
    return key.startswith(_TAIL_PREFIXES) or bool(_TAIL_RAW.match(block.text)) or _reports_to(block.text)


def _reports_to(text: str) -> bool:
    """ "Sở Nội vụ kính báo cáo Ủy ban nhân dân tỉnh./.": the sentence that sends the report, not
    one about reporting ("... hướng dẫn chế độ báo cáo định kỳ./.")."""
    if not _END_MARK.search(text) or len(text.split()) > _CLOSING_MAX_WORDS:
        return False
    return bool(_REPORTS_TO.search(" ".join(words(text))))


def _signer_title(block: Block) -> bool:
    """ "GIÁM ĐỐC" alone on its line, in capitals: a signature block without T/M or K/T."""
    return block.caps and fold(block.text) in SIGNER_TITLES


def _closing_starts(blocks: list[Block], after: int) -> int:
    """Where the closing part starts: the first tail line after block `after`, or a signer's title,
    or the block after the one whose text ends the document with "./."."""
    for j in range(after + 1, len(blocks)):
        if is_tail(blocks[j]) or _signer_title(blocks[j]) or _END_MARK.search(blocks[j - 1].text):
            return j
    return len(blocks)


def _split_inline(text: str, n_title: int) -> tuple[str, str]:
    """Split "Đặc điểm tình hình: Đảng bộ có ..." into the heading and the text that follows it.
    A colon always ends a heading; a full stop or dash only in a paragraph too long to be one."""
    long = len(text.split()) > n_title + 6
    for sep in (":", ". ", " - ", " – ") if long else (":",):
        idx = text.find(sep)
        if 0 < idx and len(text[:idx].split()) <= n_title + 6 and text[idx + len(sep):].strip():
            return text[:idx].strip(), text[idx + len(sep):].strip()
    return text, ""


def words(text: str) -> list[str]:
    """Folded words of a heading or a title, abbreviations written out, for comparing the two."""
    return expand(tokens(text))


class Headings:
    """The heading candidates of one document's blocks, worked out once however many times the
    alignment asks (wrapped-heading joins, both passes, every campaign's outline)."""

    def __init__(self) -> None:
        self._seen: dict[tuple, Candidate] = {}

    def __call__(self, block: Block, n_title_max: int) -> Candidate:
        key = (block.full_text, block.bold, block.outline_level, block.style, block.caps, n_title_max)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = candidate(block, n_title_max)
        return found


@lru_cache(maxsize=256)  # a campaign's titles come back with every document of every mail
def _title_wordings(titles: tuple[str, ...]) -> list[Wording]:
    return [Wording.of(t) for t in titles]


def title_wordings(outline: list[OutlineNode]) -> list[Wording]:
    return _title_wordings(tuple(n.title for n in outline))


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
    return Candidate(number, Wording.of(heading), inline, f"{number.label} {heading}".strip() if number else heading,
                     min(signals, 1.0))


def _similarity(heading_wording: Wording, title_wording: Wording) -> float:
    """Token overlap that forgives rewording and extra words around the title."""
    heading, title = heading_wording.words, title_wording.words
    if not heading or not title:
        return 0.0
    common = heading_wording.common(title_wording)
    recall = common / len(title)
    precision = common / len(heading)
    f1 = 2 * recall * precision / (recall + precision) if common else 0.0
    return max(f1, recall * 0.9 if len(heading) <= 2 * len(title) + 3 else recall * 0.6)


def score(cand: Candidate, node: OutlineNode, title: Wording) -> float:
    if cand.number and cand.number.kind == "bullet":
        return 0.0  # bullet points are list items, never outline headings
    sim = _similarity(cand.wording, title)
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
    if sim < _WORDING_MIN:  # numbering and bold alone do not make a heading of this node
        total = min(total, 0.3 + 0.4 * sim)
    return max(0.0, min(1.0, total))


_WRAP_MAX_WORDS = 20  # a heading's continuation line is short; a paragraph of text is not
_WRAP_GAIN = 0.05  # how much closer to a title the joined lines must come


def _may_continue(first: Block, cand: Candidate, nxt: Block) -> bool:
    """Could `nxt` be the second line of the heading in `first` (a heading broken by Enter, or a PDF
    heading wrapped onto a line the reader kept apart)? Same look, no number of its own, short."""
    if cand.rest or first.cell or nxt.cell or nxt.origin != first.origin or is_tail(nxt):
        return False
    if not (cand.number or cand.signals >= 0.5) or nxt.number_label or split_number(nxt.text)[0]:
        return False
    letters = [c for c in nxt.text if c.isalpha()]
    caps = nxt.caps or (len(letters) >= 3 and all(c.isupper() for c in letters))
    first_caps = first.caps or all(c.isupper() for c in first.text if c.isalpha())
    return nxt.bold == first.bold and (caps or not first_caps) and 0 < len(nxt.text.split()) <= _WRAP_MAX_WORDS


def join_wrapped(blocks: list[Block], outline: list[OutlineNode], headings: Headings | None = None) -> list[Block]:
    """Blocks with each wrapped heading made one block again: a heading candidate and the short block
    after it are joined when the joined text comes closer to the title of the node the first line
    is closest to (so "2. Việc lãnh đạo, ... 03-NQ/ĐUK," + "ngày 17/6/2021 của ..." is one heading, and a
    complete heading never swallows the paragraph under it)."""
    headings = headings or Headings()
    titles = title_wordings(outline)
    n_title_max = max((len(t.words) for t in titles), default=8)
    out: list[Block] = []
    j = 0
    while j < len(blocks):
        block, k = blocks[j], j + 1
        while k < len(blocks) and k - j <= 2:
            cand = headings(block, n_title_max)
            if not _may_continue(block, cand, blocks[k]):
                break
            joined = replace(block, text=f"{block.text} {blocks[k].text}")
            single = [_similarity(cand.wording, t) for t in titles]
            both = [_similarity(headings(joined, n_title_max).wording, t) for t in titles]
            best = max(range(len(titles)), key=lambda i: both[i], default=None)
            if best is None or both[best] < single[best] + _WRAP_GAIN or both[best] < max(single):
                break
            block, k = joined, k + 1
        out.append(block)
        j = k
    return out


_UNLIKE_PENALTY = 0.2  # a plain line where the document's headings of that level are emphasized
_CONFIDENT = 0.8  # matches trusted to show how the document writes its headings


def _emphasized(block: Block) -> bool:
    return block.bold or block.italic or block.outline_level is not None or bool(block.number_label) or \
        (block.style or "").lower().startswith(("heading", "title"))


@dataclass(frozen=True)
class Conventions:
    """How one document writes the headings of each outline level, learned from a first alignment.

    `emphasis`: the level's headings are emphasized (bold, italic, heading style, Word numbering), so
    a plain numbered list item worded like a missing heading is not taken for it in a bold-headed
    report, while a report with no bold at all is read by its numbers alone. `ranks`: how deep the
    level's numbers are ("2." 1, "2.1." 2, see `Number.rank`): a deeper number ("2.1." under "2.",
    "a)") is a sub-heading of the section, never the outline's next heading."""

    emphasis: dict[int, bool]
    ranks: dict[int, int]


def learned_conventions(blocks: list[Block], cands: list[Candidate], pairs: list[tuple[int, int, float]],
                        outline: list[OutlineNode]) -> Conventions:
    """Emphasis from the confident matches; numbering ranks from every numbered match (the most common
    rank of the level, the deeper one on a tie), a level without numbered matches one deeper than its parent."""
    marks: dict[int, list[bool]] = {}
    ranks: dict[int, Counter] = {}
    for i, j, s in pairs:
        level = outline[i].level
        if s >= _CONFIDENT:
            marks.setdefault(level, []).append(_emphasized(blocks[j]))
        number = cands[j].number
        if number:
            ranks.setdefault(level, Counter())[number.rank] += 1
    emphasis = {level: len(m) >= 2 and sum(m) >= 0.8 * len(m) for level, m in marks.items()}
    learned = {level: max(c, key=lambda r: (c[r], r)) for level, c in ranks.items()}
    for level in sorted({n.level for n in outline}):
        if level not in learned and level - 1 in learned:
            learned[level] = learned[level - 1] + 1
    return Conventions(emphasis, learned)


def _fits(blocks: list[Block], j: int, cand: Candidate, node: OutlineNode, title: Wording) -> bool:
    """A heading of this node whatever its look: the expected number (kind and value), worded like the
    title, shaped like a heading (short, not ending like a list item "...;"), and not the next item
    of a plain numbered list ("2. ...;" then "3. ...")."""
    number = cand.number
    if number is None or cand.heading.rstrip()[-1:] in ".;,":
        return False
    expected = key_number(node.key)
    if ("roman" if number.kind == "part" else number.kind) != expected.kind or number.value != expected.value:
        return False
    if len(cand.wording.words) > len(title.words) + 6 or _similarity(cand.wording, title) < _WORDING_MIN:
        return False
    if j and not _emphasized(blocks[j - 1]):
        before, _ = split_number(blocks[j - 1].full_text)
        if before is not None and before.kind == number.kind and before.value == number.value - 1:
            return False
    return True


def align(blocks: list[Block], outline: list[OutlineNode],
          headings: Headings | None = None) -> tuple[list[tuple[int, int, float]], list[Candidate]]:
    """Best monotone assignment [(node index, block index, score)], nodes may be left out; and the
    heading candidates of every block. Two passes: the second knows the document's conventions (from
    the first), so numbers deeper than a level's are never its headings, and plain lines score lower
    for levels whose headings this document emphasizes, unless their number and wording fit the node."""
    headings = headings or Headings()
    titles = title_wordings(outline)
    n_title_max = max((len(t.words) for t in titles), default=8)
    cands = [headings(b, n_title_max) for b in blocks]
    gain = [[score(c, node, title) for c in cands] for node, title in zip(outline, titles, strict=True)]
    pairs = _best_path(gain)
    conventions = learned_conventions(blocks, cands, pairs, outline)
    changed = False
    for i, node in enumerate(outline):
        limit = conventions.ranks.get(node.level)
        emphasized = conventions.emphasis.get(node.level, False)
        row = gain[i]
        for j, g in enumerate(row):
            if not g:
                continue
            number = cands[j].number
            if limit is not None and number is not None and number.rank > limit:
                row[j], changed = 0.0, True
            elif emphasized and not _emphasized(blocks[j]) and not _fits(blocks, j, cands[j], node, titles[i]):
                row[j], changed = max(0.0, g - _UNLIKE_PENALTY), True
    return (_best_path(gain) if changed else pairs), cands


def _best_path(gain: list[list[float]]) -> list[tuple[int, int, float]]:
    """The monotone assignment of nodes (rows) to blocks (columns) with the highest total gain."""
    K, M = len(gain), len(gain[0]) if gain else 0
    # best[i][j]: best total using nodes < i and blocks < j.
    best = [[0.0] * (M + 1) for _ in range(K + 1)]
    choice = [[0] * (M + 1) for _ in range(K + 1)]  # 0 skip node, 1 skip block, 2 match
    for i in range(1, K + 1):
        above, here, row, chosen = best[i - 1], best[i], gain[i - 1], choice[i]
        for j in range(1, M + 1):
            # ties go to skipping the node, then skipping the block, then the match
            value, how = (here[j - 1], 1) if here[j - 1] > above[j] else (above[j], 0)
            g = row[j - 1]
            if g >= MIN_SCORE and above[j - 1] + g > value:
                value, how = above[j - 1] + g, 2
            here[j], chosen[j] = value, how
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
    return pairs[::-1]


@dataclass(frozen=True)
class _Form:
    """How a document writes its top-level headings: number kind (None: unnumbered), capitals, bold."""

    kind: str | None
    caps: bool
    bold: bool


def _form(block: Block, cand: Candidate) -> _Form:
    kind = None
    if cand.number:
        kind = "roman" if cand.number.kind == "part" else cand.number.kind
    title = cand.heading[len(cand.number.label):] if cand.number else cand.heading
    letters = [c for c in title if c.isalpha()]
    caps = block.caps or (len(letters) >= 3 and all(c.isupper() for c in letters))
    return _Form(kind, caps, block.bold or block.outline_level is not None)


def _top_level_form(blocks: list[Block], cands: list[Candidate], pairs: list[tuple[int, int, float]],
                    outline: list[OutlineNode]) -> _Form | None:
    """The form most of the document's matched top-level headings share (learned from the document,
    so "I -", "Phần II:", unnumbered capitals or plain-weight headings are all recognized as its own)."""
    forms = Counter(_form(blocks[j], cands[j]) for i, j, _ in pairs if outline[i].level == 0)
    if not forms:
        return None
    form, _ = forms.most_common(1)[0]
    return form if form.kind or form.caps else None  # a bold line alone is not a heading form


def _is_extra(block: Block, cand: Candidate, form: _Form, last_value: int) -> bool:
    """A top-level heading the outline does not have: written like the document's own top-level
    headings, short, and numbered after them when numbered."""
    if len(cand.wording.words) > 15 or not cand.wording.words:
        return False
    mine = _form(block, cand)
    if mine.kind != form.kind:
        return False
    if form.kind is None:  # unnumbered headings are told by their look alone: it must be the same
        return mine == form
    # numbered: the number says most; one of the emphases the document uses is enough
    emphasis = (mine.caps and form.caps) or (mine.bold and form.bold) or not (form.caps or form.bold)
    return emphasis and cand.number is not None and cand.number.value > last_value


def sections(blocks: list[Block], outline: list[OutlineNode],
             headings: Headings | None = None) -> tuple[list[Section], list[str]]:
    """Cut the body blocks into the outline's sections; return (sections, missing keys). `headings`:
    the document's candidates, shared when it is aligned with several outlines."""
    if not outline:
        return [], []
    headings = headings or Headings()
    blocks = join_wrapped(blocks, outline, headings)
    pairs, cands = align(blocks, outline, headings)
    starts = {j: (i, s) for i, j, s in pairs}
    first = min(starts) if starts else len(blocks)
    last_start = max(starts, default=first)
    tail = _closing_starts(blocks, last_start)
    # Extra headings of the document's top-level form close the section before them.
    extras = []
    form = _top_level_form(blocks, cands, pairs, outline)
    top = [(j, cands[j]) for i, j, _ in pairs if outline[i].level == 0]
    if form is not None and top:
        last_top, last_cand = top[-1]
        last_value = last_cand.number.value if last_cand.number else 0
        for j in range(last_top + 1, tail):
            if j not in starts and _is_extra(blocks[j], cands[j], form, last_value):
                extras.append(j)
                number = cands[j].number
                last_value = number.value if number else last_value
    boundaries = sorted(set(starts) | set(extras))
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
