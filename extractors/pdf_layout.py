"""PDF lines -> blocks: column regions, paragraphs and their signals.

Lines split into several segments (tab stops, table cells), or short lines on both sides of one
free strip (cells whose lines do not line up), open a column region that is reported like a table,
so the letterhead of a PDF looks like the letterhead table of a .docx. Lines that continue one
another (same font, usual line pitch, no new indent or item, a word that did not fit) make one
paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Block
from .pdf_lines import Line, Run, Seg, build_lines, mark_notes, mark_running
from .text import repair


@dataclass(slots=True)
class Para:
    segs: list[Seg]
    page: int
    origin: str = "body"
    cell: tuple[int, int, int] | None = None
    margins: tuple[float, float, float] = (0.0, 0.0, -1.0)  # left, right, usual first-line indent


_STARTS_ITEM = re.compile(r"^(?:[IVXLC]+|\d+(?:\.\d+)*|[a-zđ])\s*[-–.):]\s|^[-–—•+*]\s", re.I)
_SEPARATOR = re.compile(r"^[\W_]+$")
_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]", re.S)
_HYPHEN_END = re.compile(r"\w-$")
_ENDS_SENTENCE = re.compile(r"[.:;!?]$")
# A region ends at a gap of this many font sizes: a cell's blank paragraph (motto, blank, date) is less.
_REGION_GAP = 5
_BAND_LINES = 16  # a letterhead or signature block is a handful of lines per column
_CELL_PADDING = 5.5  # points either side of a Word or LibreOffice table cell's text (0.19 cm)


def layout_document(pages: list[tuple[float, float, list[Run]]]) -> list[Block]:
    """Blocks in reading order for pages given as (width, height, runs)."""
    page_lines = [build_lines(runs) for _, _, runs in pages]
    heights = [h for _, h, _ in pages]
    mark_running(page_lines, heights)
    mark_notes(page_lines, heights)
    pitch = _pitches(page_lines)
    margins = _margins(page_lines, [w for w, _, _ in pages])
    indent = _first_line_indent(page_lines, margins)
    paras: list[Para] = []
    tables = 0
    for number, lines in enumerate(page_lines, start=1):
        left, right = margins[number - 1]
        edges = (left, right, indent)
        for unit in _units(lines, left, right):
            if isinstance(unit, Line):  # running header/footer line, footnote line
                last = paras[-1] if paras else None
                if (unit.origin == "note" and not unit.note_mark and last is not None and last.origin == "note"
                        and last.page == number):
                    last.segs.extend(unit.segs)  # the note goes on over this line
                else:
                    paras.append(Para(list(unit.segs), number, unit.origin, margins=edges))
            elif unit[0] == "body":
                paras.extend(_paragraphs(unit[1], number, None, edges, pitch))
            else:
                columns, gutters = unit[1], unit[2]
                for col, segs in sorted(columns.items()):
                    cell_edges = _cell_edges(col, gutters, left, right, segs)
                    paras.extend(_paragraphs(segs, number, (tables, 0, col), cell_edges, pitch))
                tables += 1
    paras = _join_pages(paras, pitch)
    blocks = [_block(p) for p in paras]
    return [b for b in blocks if b.text]


def column_bands(runs: list[Run], width: float) -> list[tuple[float, float, list[float]]]:
    """(top, bottom, x of each cut between columns) of the column regions of one page's runs: where
    an OCR engine that reads a page as one block of lines should read each column apart."""
    lines = build_lines(runs)
    left, right = _margins([lines], [width])[0]
    bands = []
    for unit in _units(lines, left, right):
        if not isinstance(unit, Line) and unit[0] == "region":
            columns, gutters = unit[1], unit[2]
            runs_in = [r for segs in columns.values() for seg in segs for r in seg.runs]
            bands.append((min(r.top for r in runs_in), max(r.bottom for r in runs_in),
                          [(a + b) / 2 for a, b in gutters]))
    return bands


# ---- statistics -------------------------------------------------------------------------------
def _pitches(page_lines: list[list[Line]]) -> dict[float, float]:
    """Line pitch per font size: the lower quartile of baseline steps (inside paragraphs)."""
    steps: dict[float, list[float]] = {}
    for lines in page_lines:
        body = [ln.segs[0] for ln in lines if ln.origin == "body" and len(ln.segs) == 1]
        for a, b in zip(body, body[1:], strict=False):  # a one-segment line's baseline is its segment's
            size = a.size
            step = b.base - a.base
            beside = a.x1 < b.x0 or b.x1 < a.x0  # lines of two columns
            if abs(size - b.size) < 0.6 and 0.8 * size < step < 2.2 * size and not beside:
                steps.setdefault(round(size), []).append(step)
    return {size: sorted(values)[len(values) // 4] for size, values in steps.items()}


def _margins(page_lines: list[list[Line]], widths: list[float]) -> list[tuple[float, float]]:
    """Left and right edges of each page's text area (from pages of the same width when it is short)."""

    def edges(lefts: list[float], rights: list[float]) -> tuple[float, float]:
        lefts.sort()
        rights.sort()
        return lefts[len(lefts) // 10], rights[(len(rights) * 9) // 10]

    per_page: list[tuple[list[float], list[float]]] = []
    by_width: dict[int, tuple[list[float], list[float]]] = {}
    for lines, width in zip(page_lines, widths, strict=True):
        body = [ln for ln in lines if ln.origin == "body"]
        lefts, rights = [ln.segs[0].x0 for ln in body], [ln.segs[-1].x1 for ln in body]
        per_page.append((lefts, rights))
        shared = by_width.setdefault(round(width), ([], []))
        shared[0].extend(lefts)
        shared[1].extend(rights)
    out = []
    for (lefts, rights), width in zip(per_page, widths, strict=True):
        if len(lefts) < 8:  # too few lines to tell: use every page of this size
            lefts, rights = by_width[round(width)]
        out.append(edges(list(lefts), list(rights)) if lefts else (0.0, float(width)))
    return out


def _first_line_indent(page_lines: list[list[Line]], margins: list[tuple[float, float]]) -> float:
    """The document's usual first-line indent (points past the left margin), -1 when there is none."""
    counts: dict[int, int] = {}
    for lines, (left, right) in zip(page_lines, margins, strict=True):
        for line in lines:
            if line.origin != "body" or len(line.segs) != 1 or line.segs[0].x1 <= right - 20:
                continue  # the usual indent is told by a paragraph's first line, which runs to the margin
            offset = round(line.segs[0].x0 - left)
            if 3 <= offset <= 80:
                counts[offset] = counts.get(offset, 0) + 1
    if not counts:
        return -1.0
    best = max(counts, key=counts.__getitem__)
    return float(best) if counts[best] >= 3 else -1.0


# ---- column regions ---------------------------------------------------------------------------
def _units(lines: list[Line], left: float, right: float):
    """Yield running lines, ("body", [seg]) runs of single lines and ("region", {col: [seg]}, gutters)."""
    body: list[Seg] = []
    region: dict[int, list[Seg]] | None = None
    gutters: list[list[float]] = []
    last_base = 0.0
    center = (left + right) / 2
    for i, line in enumerate(lines):
        if line.origin != "body":
            if body:
                yield ("body", body)
                body = []
            if region:
                yield ("region", region, gutters)
                region = None
            yield line
            continue
        if region is not None:
            size = max(s.size for s in line.segs)
            placed = _place(line.segs, gutters, size, region)
            if placed is None or _centered_on(line, center) or line.base - last_base > _REGION_GAP * size:
                yield ("region", region, gutters)
                region = None
            else:
                _narrow(gutters, placed)
                for col, seg in placed:
                    region.setdefault(col, []).append(seg)
                last_base = line.base
                continue
        if len(line.segs) >= 2:
            gutters = [[a.x1, b.x0] for a, b in zip(line.segs, line.segs[1:], strict=False)]
            region = {col: [seg] for col, seg in enumerate(line.segs)}
        else:
            gutters = _side_by_side(lines, i, left, right) or []
            placed = _place(line.segs, gutters, line.segs[0].size) if gutters else None
            region = {col: [seg] for col, seg in placed} if placed else None
        if region is not None:
            if body:
                yield ("body", body)
                body = []
            last_base = line.base
        else:
            body.append(line.segs[0])
    if body:
        yield ("body", body)
    if region:
        yield ("region", region, gutters)


def _centered_on(line: Line, center: float) -> bool:
    seg = line.segs[0]
    return len(line.segs) == 1 and abs((seg.x0 + seg.x1) / 2 - center) < seg.size


def _side_by_side(lines: list[Line], start: int, left: float, right: float) -> list[list[float]] | None:
    """The gutter of two columns starting at `lines[start]` whose lines never share a baseline
    (cells aligned differently, spacing before one of them, a scan read column by column), so no
    single line shows both: [[right edge of the left column, left edge of the right one]], or None.

    The band is the lines that follow, each narrow and not centred on the page, with no large gap;
    it must hold lines on both sides of one free vertical strip, side by side rather than one above
    the other, and not begin with the last line of a paragraph."""
    first = lines[start]
    size, center = first.segs[0].size, (left + right) / 2
    width = right - left
    seg = first.segs[0]
    if len(first.segs) == 1 and (seg.x1 - seg.x0 > 0.6 * width or abs((seg.x0 + seg.x1) / 2 - center) < seg.size):
        return None  # the band below would end before its first line (wide or centred): most body lines
    if start and lines[start - 1].origin == "body" and first.base - lines[start - 1].base < 2 * size:
        prev = lines[start - 1]
        if prev.segs[-1].x1 - prev.segs[0].x0 > 0.6 * width:
            return None  # the short last line of a paragraph
    band: list[list[tuple[float, float, float]]] = []  # per line, (x0, x1, baseline) of its segments
    last_base = first.base
    for line in lines[start:start + _BAND_LINES]:
        if (line.origin != "body" or line.base - last_base > _REGION_GAP * size or _centered_on(line, center)
                or any(s.x1 - s.x0 > 0.6 * width for s in line.segs)):
            break
        band.append([(s.x0, s.x1, line.base) for s in line.segs])
        last_base = line.base
    for end in range(len(band), 1, -1):  # the longest run of lines that makes two columns
        spans = [span for line_spans in band[:end] for span in line_spans]
        gutter = _free_strip(spans, size)
        if gutter is None:
            continue
        lo, hi = gutter
        left_bases = [b for x0, x1, b in spans if x1 <= lo]
        right_bases = [b for x0, x1, b in spans if x0 >= hi]
        if (min(left_bases) <= first.base + 2 * size and min(right_bases) <= first.base + 2 * size
                and max(min(left_bases), min(right_bases)) < min(max(left_bases), max(right_bases)) + size):
            return [[lo, hi]]
        return None  # one column after the other, not side by side
    return None


def _free_strip(spans: list[tuple[float, float, float]], size: float) -> tuple[float, float] | None:
    """The one vertical strip at least `size` wide that no segment crosses and that has segments on
    both sides, when the segments make exactly two such groups."""
    groups: list[list[float]] = []
    for x0, x1, _ in sorted(spans):
        if groups and x0 < groups[-1][1] + size:
            groups[-1][1] = max(groups[-1][1], x1)
        else:
            groups.append([x0, x1])
    if len(groups) != 2:
        return None
    return groups[0][1], groups[1][0]


def _cell_edges(col: int, gutters: list[list[float]], left: float, right: float, segs: list[Seg]) -> tuple:
    """Where the text of the invisible cell of a column probably is: page margins and the middle of
    gutters, or, for a column of centred lines, as far from their centre on either side as the
    nearer known edge (the page margin of an outer column; a table's cells are padded)."""
    lo = left if col == 0 else sum(gutters[col - 1]) / 2
    hi = right if col == len(gutters) else sum(gutters[col]) / 2
    x0, x1 = min(s.x0 for s in segs), max(s.x1 for s in segs)
    centres = sorted((s.x0 + s.x1) / 2 for s in segs)
    centre = centres[len(centres) // 2]
    if len(segs) >= 2 and len(gutters) == 1 and all(abs(c - centre) < segs[0].size for c in centres):
        # only when the widest line leaves room to that edge: else the edge is the line, not the cell
        if col == 0 and x0 - left >= _CELL_PADDING:
            lo, hi = left, 2 * centre - left
        elif col == 1 and right - x1 >= 2 * _CELL_PADDING:
            lo, hi = 2 * centre - right + 2 * _CELL_PADDING, right - 2 * _CELL_PADDING
    return min(lo, x0), max(hi, x1), -1.0


def _place(segs: list[Seg], gutters: list[list[float]], size: float,
           columns: dict[int, list[Seg]] | None = None) -> list[tuple[int, Seg]] | None:
    """Columns of a line's segments in an open region, or None when the line does not belong to it:
    it crosses a gutter (a segment that would fit the columns on both sides of one sits across it),
    or it is off the centre of a column of centred lines (the title below a letterhead)."""
    placed = []
    used = set()
    for seg in segs:
        fits = [c for c in range(len(gutters) + 1)
                if (c == 0 or seg.x0 >= gutters[c - 1][0] - size)
                and (c == len(gutters) or seg.x1 <= gutters[c][1] + size)]
        if len(fits) != 1 or fits[0] in used or _off_centre(seg, (columns or {}).get(fits[0], [])):
            return None
        used.add(fits[0])
        placed.append((fits[0], seg))
    return placed


def _off_centre(seg: Seg, column: list[Seg]) -> bool:
    """Is `seg` off the common centre of a column of centred lines (of different widths)?"""
    if len(column) < 2:
        return False
    centres = [(s.x0 + s.x1) / 2 for s in column]
    centre = sum(centres) / len(centres)
    ragged = max(s.x0 for s in column) - min(s.x0 for s in column) > seg.size  # not all flush left
    centred = ragged and max(abs(c - centre) for c in centres) < seg.size
    return centred and abs((seg.x0 + seg.x1) / 2 - centre) > 3 * seg.size


def _narrow(gutters: list[list[float]], placed: list[tuple[int, Seg]]) -> None:
    """The gutters narrow to what the columns of an accepted line really use."""
    for col, seg in placed:
        if col > 0:
            gutters[col - 1][1] = min(gutters[col - 1][1], seg.x0)
        if col < len(gutters):
            gutters[col][0] = max(gutters[col][0], seg.x1)


# ---- paragraphs -------------------------------------------------------------------------------
def _paragraphs(segs: list[Seg], page: int, cell, margins: tuple, pitch) -> list[Para]:
    paras: list[Para] = []
    for seg in segs:
        if paras and _continues(paras[-1], seg, margins, pitch):
            paras[-1].segs.append(seg)
        else:
            paras.append(Para([seg], page, "body", cell, margins))
    return paras


def _symmetric(seg: Seg, margins: tuple) -> bool:
    left, right = margins[0], margins[1]
    return abs((seg.x0 + seg.x1) / 2 - (left + right) / 2) < max(0.6 * seg.size, 0.025 * (right - left))


def _centered(seg: Seg, margins: tuple) -> bool:
    """Centred and visibly so: a full-width line is symmetric too, and so may be a first line
    indented by the document's usual first-line indent: neither says anything."""
    return (seg.x0 > margins[0] + 1.5 * seg.size and seg.x1 < margins[1] - 1.5 * seg.size
            and abs(seg.x0 - margins[0] - margins[2]) > 2.0 and _symmetric(seg, margins))


def _continues(para: Para, seg: Seg, margins: tuple, pitch, same_page: bool = True) -> bool:
    """Is `seg` the next line of the paragraph (same font, no gap, no new indent or item)?"""
    last = para.segs[-1]
    size, last_size = seg.size, last.size
    if size < last_size:
        if last_size - size > 0.6:
            return False
        size = last_size
    elif size - last_size > 0.6:
        return False
    if same_page and not 0.5 * size < seg.base - last.base <= 1.2 * pitch.get(round(size), 1.2 * size) + 0.5:
        return False
    if seg.style != last.style and not _runs_on(last, seg):
        return False
    text, last_text = seg.text, last.text
    if _separator(text) or _separator(last_text) or _STARTS_ITEM.match(text):
        return False
    if last_text.isupper() and _is_caps(last_text) and not _is_caps(text):
        return False  # "TỜ TRÌNH" then "Về việc ...": a title, then its subject
    left, right = margins[0], margins[1]
    if _centered(last, margins) or _centered(seg, margins):  # a centred title wrapped over lines
        if para.cell is not None:  # a narrow cell: the next line's first word would not have fitted
            wide = (right - left) - (last.x1 - last.x0) < _first_word_width(seg)
        else:
            wide = last.x1 - last.x0 >= 0.75 * (right - left)  # it wrapped because it ran out of room
        return wide and _symmetric(last, margins) and _symmetric(seg, margins)
    if right - last.x1 > _first_word_width(seg) + 0.5 * size:
        return False  # the next line's first word would have fitted: the previous line ended its paragraph
    if last_text[-1:] in ";:" and text[:1].isupper():
        return False  # list items of legal texts ("Căn cứ ...;") each end a line
    if len(para.segs) == 1:
        if seg.x0 <= last.x0 + 0.8 * size:
            return True  # a first-line indent is fine, a deeper start is not...
        item = _STARTS_ITEM.match(last_text)
        # ...except a hanging indent: "2. Việc lãnh đạo ..." wraps with its second line under the title,
        # as Word lays out numbered headings and list items.
        return item is not None and seg.x0 <= last.x0 + _prefix_width(last, item.end()) + 1.5 * size
    return abs(seg.x0 - last.x0) <= 0.8 * size


def _separator(text: str) -> bool:
    """A line of rules or dots ("* * *", "-----"): no letter or digit. The first test settles the
    lines that start with a letter or a digit, most of them."""
    return not text[:1].isalnum() and _SEPARATOR.match(text) is not None


def _runs_on(last: Seg, seg: Seg) -> bool:
    """The type a line ends in goes on at the start of the next: a bold heading wrapped over two lines
    that runs on into its text ("2. Việc lãnh đạo ... các cơ quan" / "tỉnh: Ngay sau khi ...")."""
    end, start = last.runs[-1], seg.runs[0]
    return (end.bold, end.italic, end.font) == (start.bold, start.italic, start.font)


def _prefix_width(seg: Seg, chars: int) -> float:
    """Estimated width of the segment's first `chars` characters, from its average character width."""
    return chars * (seg.x1 - seg.x0) / max(len(seg.text), 1)


def _first_word_width(seg: Seg) -> float:
    """Estimated width of the segment's first word and a space, from its average character width
    (a segment's text has single spaces between words, none at its ends)."""
    text = seg.text
    if not text:
        return 0.0
    space = text.find(" ")
    return ((space if space >= 0 else len(text)) + 1) * (seg.x1 - seg.x0) / len(text)


def _join_pages(paras: list[Para], pitch) -> list[Para]:
    """A body paragraph running over a page break continues on the next page's first body line."""
    out: list[Para] = []
    last_body: Para | None = None
    for para in paras:
        if para.origin != "body" or para.cell is not None:
            out.append(para)
            if para.cell is not None:
                last_body = None
            continue
        if (last_body is not None and para.page == last_body.page + 1 and last_body is _last_body_of(out)
                and not _ENDS_SENTENCE.search(last_body.segs[-1].text)
                and abs(para.segs[0].x0 - para.margins[0]) < para.segs[0].size
                and _continues(last_body, para.segs[0], last_body.margins, pitch, same_page=False)):
            last_body.segs.extend(para.segs)
            continue
        out.append(para)
        last_body = para
    return out


def _last_body_of(paras: list[Para]) -> Para | None:
    for para in reversed(paras):
        if para.origin == "body":
            return para if para.cell is None else None
    return None


# ---- blocks -----------------------------------------------------------------------------------
def _block(para: Para) -> Block:
    segs = para.segs
    if len(segs) == 1 and len(segs[0].runs) == 1:  # a line of one run: most headings, titles, cells
        seg = segs[0]
        text = repair(seg.text)
        in_bold, in_italic, font_name = seg.style  # of one run: its own
        return Block(text, para.origin, para.page, para.cell, None, None, None, in_bold, in_italic, _is_caps(text),
                     seg.size, font_name or None, round(seg.x0, 1), _align(para))
    pieces: list[str] = []
    chars = bold = italic = 0
    first = segs[0].runs[0]
    size: float | None = first.size
    font: str | None = first.font
    one_size = one_font = True
    for seg in segs:
        if pieces and pieces[-1][-1:] == "-" and _HYPHEN_END.search(pieces[-1]):
            pieces[-1] += seg.text  # "03-" + "NQ/ĐUK": a line wrapped after a hyphen
        else:
            pieces.append(seg.text)
        chars += seg.chars
        bold += seg.bold
        italic += seg.italic
        for r in seg.runs:
            one_size = one_size and r.size == size
            one_font = one_font and r.font == font
    if not (one_size and one_font):  # a size and a font per character count, only where runs mix them
        weighted = [(r, len(r.text.strip())) for seg in segs for r in seg.runs]
        if not one_size:
            size = _weighted_median(sorted((r.size, weight) for r, weight in weighted))
        if not one_font:
            fonts: dict[str, int] = {}
            for r, weight in weighted:
                fonts[r.font] = fonts.get(r.font, 0) + weight
            font = max(fonts, key=fonts.__getitem__)
    text = repair(" ".join(pieces))
    chars = chars or 1
    return Block(text, para.origin, para.page, para.cell, None, None, None, bold >= 0.8 * chars,
                 italic >= 0.8 * chars, _is_caps(text), size, font or None, round(segs[0].x0, 1), _align(para))


def _is_caps(text: str) -> bool:
    return text.isupper() and _TWO_LETTERS.search(text) is not None


def _weighted_median(pairs: list[tuple[float, int]]) -> float | None:
    total = sum(w for _, w in pairs)
    if not pairs:
        return None
    acc = 0
    for value, weight in pairs:
        acc += weight
        if acc * 2 >= total:
            return value
    return pairs[-1][0]


def _align(para: Para) -> str:
    first = para.segs[0]
    left, right = para.margins[0], para.margins[1]
    if _centered(first, para.margins):
        return "center"
    if abs(right - first.x1) < first.size and first.x0 > left + 0.3 * (right - left):
        return "right"
    if len(para.segs) > 1 and abs(right - first.x1) < 0.5 * first.size:
        return "justify"
    return "left"
