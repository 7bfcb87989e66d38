"""PDF text runs -> lines: baselines, layout gaps, running headers and footers.

Coordinates are points from the top-left corner of the page (y grows downwards). A *run* is what
one PDF text object drew (one font, one line segment); a *segment* is runs on one baseline with no
layout gap between them; a *line* is the segments sharing a baseline.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from operator import attrgetter
from statistics import median


@dataclass(slots=True)
class Run:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    base: float
    size: float
    font: str
    bold: bool
    italic: bool


@dataclass(slots=True)
class Seg:
    runs: list[Run]
    text: str = ""
    x0: float = 0.0
    x1: float = 0.0
    base: float = 0.0
    size: float = 0.0  # the size carrying most characters
    font: str = ""  # the font carrying most characters
    chars: int = 0
    bold: int = 0  # characters in bold runs
    italic: int = 0
    # (mostly bold, mostly italic, font): the font name too, because "Print to PDF" fonts are
    # called F1, F2... and tell bold from regular only so
    style: tuple[bool, bool, str] = (False, False, "")


@dataclass(slots=True)
class Line:
    segs: list[Seg]
    base: float
    top: float
    bottom: float
    origin: str = "body"
    note_mark: bool = False  # begins with a footnote's mark (a superscript number the text hangs on)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segs)


_PAGE_NUMBER = re.compile(r"^[-–—\s]*(?:trang|page|tr\.)?\s*\d{1,4}(?:\s*(?:/|of|trên)\s*\d{1,4})?[-–—\s]*$", re.I)
_DIGITS = re.compile(r"\d+")
# a list number or bullet followed by a tab stop (Word lists exported to PDF)
_MARKER = re.compile(r"^(?:(?:Điều|Chương|Mục|Phần|Khoản|Article|Section)\s+)?"
                     r"(?:[IVXLCDM]+|\d+(?:\.\d+)*|[a-zđ])[.):]?$"
                     r"|^\(\w{1,4}\)$|^[-–—•·∙◦○●■□▪▫►➢✓❖+*]$", re.I)


# ---- lines ------------------------------------------------------------------------------------
_BY_BASELINE = attrgetter("base", "x0")
_SIZE = attrgetter("size")


def build_lines(runs: list[Run]) -> list[Line]:
    """One page's runs grouped by baseline, top to bottom, each line cut at its layout gaps.
    Footnote marks (superscripts) are left out."""
    runs = sorted(runs, key=_BY_BASELINE)
    runs, marked = _drop_marks(runs)
    groups: list[list[Run]] = []
    ref = size = 0.0
    for run in runs:
        if groups and run.base - ref <= 0.35 * (size if size > run.size else run.size):
            groups[-1].append(run)
            if run.size > size:
                ref, size = run.base, run.size
        else:
            groups.append([run])
            ref, size = run.base, run.size
    lines = []
    for group in groups:
        if len(group) == 1:  # most lines of generated PDFs are one text object
            run = group[0]
            mark = bool(marked) and id(run) in marked
            lines.append(Line([_single(run)], run.base, run.top, run.bottom, "body", mark))
            continue
        group.sort(key=lambda r: r.x0)
        segs = [_segment(part) for part in _split_gaps(_dedupe(group))]
        lines.append(Line(segs, min(s.base for s in segs), min(r.top for r in group), max(r.bottom for r in group),
                          note_mark=id(group[0]) in marked))
    return lines


def _dedupe(runs: list[Run]) -> list[Run]:
    """Drop runs drawn twice at (nearly) the same place: shadow or fake-bold duplicates."""
    out: list[Run] = []
    for run in runs:
        if out and run.text == out[-1].text and abs(run.x0 - out[-1].x0) < 1.5 and abs(run.base - out[-1].base) < 1.5:
            continue
        out.append(run)
    return out


def _split_gaps(runs: list[Run]) -> list[list[Run]]:
    """Split where the gap is a layout gap (tab stop, cell border), not a justified word space."""
    gaps = [b.x0 - a.x1 for a, b in zip(runs, runs[1:], strict=False)]
    positive = [g for g in gaps if g > 0]
    overall = median(positive) if len(positive) >= 3 else None
    parts = [[runs[0]]]
    for i, run in enumerate(runs[1:]):
        gap = gaps[i]
        em = max(run.size, runs[i].size)
        if gap <= em:  # a word space: the common case, decided without the costlier tests below
            parts[-1].append(run)
            continue
        if overall is not None:
            typical = overall  # word spaces of a justified line are all alike
        else:
            typical = min((g for j, g in enumerate(gaps) if j != i and g > 0), default=0.0)
        leading_marker = (len(parts) == 1 and gap < 4.5 * em
                          and _MARKER.match("".join(r.text for r in parts[0]).strip()))
        if gap > 2.5 * typical and not leading_marker:  # "I." + tab + heading is one line
            parts.append([run])
        else:
            parts[-1].append(run)
    return parts


def _segment(runs: list[Run]) -> Seg:
    if len(runs) == 1:
        return _single(runs[0])
    seg = Seg(runs)
    pieces: list[str] = []
    sizes: dict[float, int] = {}
    fonts: dict[str, int] = {}
    prev = None
    for run in runs:
        text = run.text
        if prev is not None and pieces:
            gap = run.x0 - prev.x1
            if gap > 0.2 * max(run.size, prev.size) and not pieces[-1].endswith(" ") and not text.startswith(" "):
                pieces.append(" ")
        pieces.append(text)
        weight = len(text.strip().replace(" ", ""))
        seg.chars += weight
        seg.bold += weight if run.bold else 0
        seg.italic += weight if run.italic else 0
        sizes[run.size] = sizes.get(run.size, 0) + weight
        fonts[run.font] = fonts.get(run.font, 0) + weight
        prev = run
    seg.text = " ".join("".join(pieces).split())
    seg.x0 = runs[0].x0
    seg.x1 = max(r.x1 for r in runs)
    seg.size = max(sizes, key=sizes.__getitem__) if sizes else runs[0].size
    seg.font = max(fonts, key=fonts.__getitem__) if fonts else runs[0].font
    seg.base = max(runs, key=lambda r: len(r.text)).base
    seg.style = (seg.chars > 0 and seg.bold >= 0.8 * seg.chars, seg.chars > 0 and seg.italic >= 0.8 * seg.chars,
                 seg.font)
    return seg


def _single(run: Run) -> Seg:
    """`_segment` of one run, the common case, without the bookkeeping for several."""
    text = run.text.strip()
    weight = len(text) - text.count(" ")
    if "  " in text or not text.isprintable():  # else split and join would give it back: most runs
        text = " ".join(text.split())
    bold, italic = run.bold and weight > 0, run.italic and weight > 0
    return Seg([run], text, run.x0, run.x1, run.base, run.size, run.font, weight,
               weight if bold else 0, weight if italic else 0, (bold, italic, run.font))


# ---- running headers and footers --------------------------------------------------------------
def mark_running(page_lines: list[list[Line]], heights: list[float]) -> None:
    """Bare page numbers, and text repeated at the same place in the top/bottom band of most pages.

    The bands are the page margins (7 %): body text starts below a 2 cm top margin.
    """
    candidates: list[tuple[Line, str, float]] = []
    where: dict[str, list[tuple[int, float]]] = {}
    for number, (lines, height) in enumerate(zip(page_lines, heights, strict=True)):
        top = [(ln, "header", ln.top) for ln in lines[:3] if ln.bottom < 0.07 * height]
        bottom = [(ln, "footer", height - ln.bottom) for ln in lines[-3:] if ln.top > 0.93 * height]
        for line, band, y in top + bottom:
            key = band + ":" + _DIGITS.sub("#", " ".join(line.text.lower().split()))
            candidates.append((line, key, y))
            where.setdefault(key, []).append((number, y))
    enough = max(2, math.ceil(0.5 * len(page_lines)))
    for line, key, y in candidates:
        band = key.split(":", 1)[0]
        same_place = {page for page, other in where[key] if abs(other - y) <= 6}
        if _PAGE_NUMBER.match(line.text) or (len(page_lines) >= 2 and len(same_place) >= enough):
            line.origin = band


# ---- footnotes --------------------------------------------------------------------------------
# What a footnote mark says: "1", "12", "*", "(3)", "1,2"
_MARK_TEXT = re.compile(r"^\(?(?:\d{1,3}(?:,\d{1,3})*|\*{1,3}|[†‡])\)?$")
# a superscript after a unit is a power, not a mark: "m2", "km2", "m3"
_UNIT_END = re.compile(r"(?:^|[\s\d])[kcdh]?m$")


def _drop_marks(runs: list[Run]) -> tuple[list[Run], set[int]]:
    """Runs without the footnote marks, and the ids of the runs that follow a mark opening a note.

    A mark is a short number (or asterisk) set smaller than the text it is glued to and raised above
    its baseline: after a word in the text ("03-NQ/ĐUK¹"), before the note's own text at the page foot.
    `runs` are sorted by baseline."""
    small = 0.87 * max(map(_SIZE, runs), default=0.0)
    marks = [r for r in runs if r.size <= small and len(r.text) <= 8 and _MARK_TEXT.match(r.text.strip())]
    if not marks:
        return runs, set()
    bases = [r.base for r in runs]
    dropped: set[int] = set()
    opening: set[int] = set()
    powers = False
    for mark in marks:
        # the text it hangs on: bigger, its baseline below the mark's by 0.12 to 0.75 of its size
        lo = bisect_left(bases, mark.base + 0.12 * mark.size)
        hi = bisect_right(bases, mark.base + 0.75 * 3 * mark.size)
        before = after = None
        for host in runs[lo:hi]:
            if host.size < 1.15 * mark.size or not 0.12 * host.size <= host.base - mark.base <= 0.75 * host.size:
                continue
            glue = 0.4 * host.size
            if -0.5 <= mark.x0 - host.x1 <= glue:
                before = host
            elif -0.5 <= host.x0 - mark.x1 <= glue:
                after = host
        if before is not None and _UNIT_END.search(before.text.rstrip()):
            mark.base = before.base  # a power ("m²"): text of the line it is raised above
            powers = True
        elif before is not None:  # after a word of the text
            dropped.add(id(mark))
            before.x1 = max(before.x1, mark.x1)  # "viên¹, đạt" reads "viên, đạt", not "viên , đạt"
        elif after is not None:  # before the note it opens
            dropped.add(id(mark))
            opening.add(id(after))
    kept = [r for r in runs if id(r) not in dropped] if dropped else runs
    if powers:
        kept.sort(key=lambda r: (r.base, r.x0))
    return kept, opening


# a note's text starting with its mark at full size: "1 Nghị quyết số ...", "(2) Theo ...", "* Số liệu ..."
_NOTE_START = re.compile(r"^(?:\d{1,3}|\(\d{1,3}\)|\*{1,3})\s*[^\W\d_]\S*\s+\S")
_NOTE_SIZE = 0.85  # notes are set at most this size of the document's text
_NOTE_AREA = 0.5  # notes start in the lower part of the page: a chart's labels or a form's small print do not


def mark_notes(page_lines: list[list[Line]], heights: list[float]) -> None:
    """Footnotes: the lines at the foot of a page set clearly smaller than the document's text, from
    the first one that opens a note in the lower half of the page down to the running footer.
    Marked `origin = "note"`, like the .docx notes part."""
    small = _NOTE_SIZE * _text_size(page_lines, heights)
    for lines, height in zip(page_lines, heights, strict=True):
        foot: list[Line] = []
        for line in reversed(lines):
            if line.origin != "body":
                continue  # the running footer below the notes
            if len(line.segs) != 1 or line.segs[0].size > small:
                break
            foot.append(line)
        foot.reverse()
        start = next((k for k, line in enumerate(foot) if line.top >= _NOTE_AREA * height and _opens_note(line)), None)
        if start is None:
            continue
        for line in foot[start:]:
            line.origin = "note"
            line.note_mark = _opens_note(line)


def _text_size(page_lines: list[list[Line]], heights: list[float]) -> float:
    """The size most of the document's text is set in, from the upper half of its pages (a page's notes
    are at its foot, and a page can hold more notes than text)."""
    sizes: dict[float, int] = {}
    for lines, height in zip(page_lines, heights, strict=True):
        for line in lines:
            if line.origin == "body" and line.top < _NOTE_AREA * height:
                for seg in line.segs:
                    sizes[seg.size] = sizes.get(seg.size, 0) + seg.chars
    return max(sizes, key=sizes.__getitem__) if sizes else 0.0


def _opens_note(line: Line) -> bool:
    """A note's first line: after a superscript mark, or its mark and two words at full size."""
    return line.note_mark or _NOTE_START.match(line.segs[0].text) is not None
