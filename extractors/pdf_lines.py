"""PDF text runs -> lines: baselines, layout gaps, running headers and footers.

Coordinates are points from the top-left corner of the page (y grows downwards). A *run* is what
one PDF text object drew (one font, one line segment); a *segment* is runs on one baseline with no
layout gap between them; a *line* is the segments sharing a baseline.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
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

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segs)


_PAGE_NUMBER = re.compile(r"^[-–—\s]*(?:trang|page|tr\.)?\s*\d{1,4}(?:\s*(?:/|of|trên)\s*\d{1,4})?[-–—\s]*$", re.I)
_DIGITS = re.compile(r"\d+")
# a list number or bullet followed by a tab stop (Word lists exported to PDF)
_MARKER = re.compile(r"^(?:(?:Điều|Chương|Mục|Phần|Khoản|Article|Section)\s+)?(?:[IVXLCDM]+|\d+(?:\.\d+)*|[a-zđ])[.):]?$"
                     r"|^\(\w{1,4}\)$|^[-–—•·∙◦○●■□▪▫►➢✓❖+*]$", re.I)


# ---- lines ------------------------------------------------------------------------------------
def build_lines(runs: list[Run]) -> list[Line]:
    """One page's runs grouped by baseline, top to bottom, each line cut at its layout gaps."""
    runs = sorted(runs, key=lambda r: (r.base, r.x0))
    groups: list[list[Run]] = []
    ref = size = 0.0
    for run in runs:
        if groups and run.base - ref <= 0.35 * max(size, run.size):
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
            lines.append(Line([_segment(group)], run.base, run.top, run.bottom))
            continue
        group.sort(key=lambda r: r.x0)
        segs = [_segment(part) for part in _split_gaps(_dedupe(group))]
        lines.append(Line(segs, min(s.base for s in segs), min(r.top for r in group), max(r.bottom for r in group)))
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
    gaps = [b.x0 - a.x1 for a, b in zip(runs, runs[1:])]
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
        return _single(runs)
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
    seg.size = max(sizes, key=sizes.get) if sizes else runs[0].size
    seg.font = max(fonts, key=fonts.get) if fonts else runs[0].font
    seg.base = max(runs, key=lambda r: len(r.text)).base
    seg.style = (seg.chars > 0 and seg.bold >= 0.8 * seg.chars, seg.chars > 0 and seg.italic >= 0.8 * seg.chars, seg.font)
    return seg


def _single(runs: list[Run]) -> Seg:
    """`_segment` of one run, the common case, without the bookkeeping for several."""
    run = runs[0]
    weight = len(run.text.strip().replace(" ", ""))
    bold, italic = run.bold and weight > 0, run.italic and weight > 0
    return Seg(runs, " ".join(run.text.split()), run.x0, run.x1, run.base, run.size, run.font, weight,
               weight if bold else 0, weight if italic else 0, (bold, italic, run.font))


# ---- running headers and footers --------------------------------------------------------------
def mark_running(page_lines: list[list[Line]], heights: list[float]) -> None:
    """Bare page numbers, and text repeated at the same place in the top/bottom band of most pages.

    The bands are the page margins (7 %): body text starts below a 2 cm top margin.
    """
    candidates: list[tuple[Line, str, float]] = []
    where: dict[str, list[tuple[int, float]]] = {}
    for number, (lines, height) in enumerate(zip(page_lines, heights)):
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

