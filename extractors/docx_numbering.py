"""Word automatic numbering rebuilt as the reader sees it ("II.", "1.2.", "a)").

Reports often number their headings with Word lists, so the number is in numbering.xml, not in the
text: without this, "I. TÌNH HÌNH..." reads as "TÌNH HÌNH..." and the outline aligner loses its
strongest signal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from .docx_styles import Names, read_para_props, to_int


@dataclass
class Level:
    start: int = 1
    fmt: str = "decimal"
    text: str | None = None  # lvlText, e.g. "%1.%2."
    restart: int | None = None  # lvlRestart: 0 = never, N = after a level above N is used
    legal: bool = False  # isLgl: show every level in decimal
    indent: float | None = None
    style: str | None = None  # pStyle linked to this level


_ROMAN = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
          (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))


def _roman(value: int) -> str:
    if value <= 0 or value >= 4000:
        return str(value)
    out = []
    for amount, digits in _ROMAN:
        count, value = divmod(value, amount)
        out.append(digits * count)
    return "".join(out)


def _letter(value: int) -> str:
    # Word repeats the letter: a..z, aa..zz, aaa..
    if value <= 0:
        return str(value)
    return chr(ord("A") + (value - 1) % 26) * ((value - 1) // 26 + 1)


def format_number(value: int, fmt: str) -> str:
    if fmt == "upperRoman":
        return _roman(value)
    if fmt == "lowerRoman":
        return _roman(value).lower()
    if fmt == "upperLetter":
        return _letter(value)
    if fmt == "lowerLetter":
        return _letter(value).lower()
    if fmt in ("decimalZero",):
        return f"{value:02d}"
    if fmt == "none":
        return ""
    return str(value)  # decimal and every format we do not render specially


_PLACEHOLDER = re.compile(r"%([1-9])")


class Numbering:
    """numId -> levels, with running counters.

    Counters follow Word: nums sharing an abstractNum continue one list (a level redefined by
    lvlOverride/lvl included), unless a num has a startOverride: then it is a list of its own
    that starts over at that value.
    """

    def __init__(self, root: etree._Element | None, n: Names, styles=None):
        self.n = n
        self._levels: dict[str, dict[int, Level]] = {}  # numId -> levels
        self._key: dict[str, str] = {}  # numId -> counter key
        self._counters: dict[str, list[int | None]] = {}
        if root is None:
            return
        abstract: dict[str, etree._Element] = {}
        for el in root.iter(n.abstractNum):
            aid = el.get(n.a_abstractNumId)
            if aid is not None:
                abstract.setdefault(aid, el)
        nums: dict[str, str] = {}
        num_els: dict[str, etree._Element] = {}
        for el in root.iter(n.num):
            nid = el.get(n.a_numId)
            ref = el.find(n.abstractNumId)
            if nid is None or ref is None:
                continue
            nums[nid] = ref.get(n.a_val) or ""
            num_els[nid] = el
        for nid, aid in nums.items():
            abs_el = self._follow_style_link(abstract.get(aid), abstract, nums, styles)
            levels = self._read_levels(abs_el) if abs_el is not None else {}
            restarts = False
            for override in num_els[nid].iter(n.lvlOverride):
                ilvl = to_int(override.get(n.a_ilvl)) or 0
                lvl_el = override.find(n.lvl)
                level = self._read_level(lvl_el) if lvl_el is not None else Level(**vars(levels.get(ilvl, Level())))
                start = override.find(n.startOverride)
                start_value = to_int(start.get(n.a_val)) if start is not None else None
                if start_value is not None:
                    level.start = start_value
                    restarts = True
                levels[ilvl] = level
            self._levels[nid] = levels
            self._key[nid] = "num:" + nid if restarts else "abs:" + aid

    def _follow_style_link(self, el, abstract, nums, styles):
        """An abstractNum with numStyleLink takes its levels from the numbering style's list."""
        n = self.n
        for _ in range(3):
            if el is None:
                return None
            link = el.find(n.numStyleLink)
            if link is None or styles is None:
                return el
            style = styles.get(link.get(n.a_val))
            target = style.para.num_id if style is not None else None
            if target is None or target not in nums:
                return el
            el = abstract.get(nums[target])
        return el

    def _read_levels(self, abs_el: etree._Element) -> dict[int, Level]:
        levels = {}
        for lvl_el in abs_el.findall(self.n.lvl):
            ilvl = to_int(lvl_el.get(self.n.a_ilvl))
            if ilvl is not None and 0 <= ilvl < 9:
                levels[ilvl] = self._read_level(lvl_el)
        return levels

    def _read_level(self, el: etree._Element) -> Level:
        n = self.n
        level = Level()
        for ch in el:
            tag = ch.tag
            val = ch.get(n.a_val)
            if tag == n.start:
                start = to_int(val)
                level.start = start if start is not None else 1
            elif tag == n.numFmt:
                level.fmt = val or "decimal"
            elif tag == n.lvlText:
                level.text = val
            elif tag == n.lvlRestart:
                level.restart = to_int(val)
            elif tag == n.isLgl:
                level.legal = val is None or val.lower() not in ("0", "false", "off")
            elif tag == n.pStyle:
                level.style = val
            elif tag == n.pPr:
                level.indent = read_para_props(ch, n).indent
        return level

    def level_for_style(self, num_id: str, style_id: str | None) -> int | None:
        """The level linked to a paragraph style (lvl/pStyle), used when a style's numPr has no ilvl."""
        for ilvl, level in self._levels.get(num_id, {}).items():
            if style_id and level.style == style_id:
                return ilvl
        return None

    def indent(self, num_id: str | None, ilvl: int) -> float | None:
        level = self._levels.get(num_id or "", {}).get(ilvl)
        return level.indent if level else None

    def next_label(self, num_id: str | None, ilvl: int) -> tuple[str | None, bool]:
        """Advance the list's counter for this paragraph; return (label, is_list_item).

        Bullets and empty level texts are list items without a label.
        """
        if not num_id or num_id == "0" or num_id not in self._levels:
            return None, False
        levels = self._levels[num_id]
        ilvl = min(max(ilvl, 0), 8)
        level = levels.get(ilvl)
        if level is None:
            return None, False
        counters = self._counters.setdefault(self._key[num_id], [None] * 9)
        current = counters[ilvl]
        counters[ilvl] = level.start if current is None else current + 1
        for deeper in range(ilvl + 1, 9):
            lower = levels.get(deeper)
            restart = lower.restart if lower is not None else None
            if restart is None or (restart != 0 and ilvl < restart):
                counters[deeper] = None  # a higher level restarts the lower ones
        if level.fmt == "bullet" or not level.text:
            return None, True

        def render(match: re.Match) -> str:
            k = int(match.group(1)) - 1
            other = levels.get(k, Level())
            counted = counters[k]
            value = counted if counted is not None else other.start
            fmt = "decimal" if (level.legal and other.fmt != "none") else other.fmt
            return format_number(value, fmt)

        label = _PLACEHOLDER.sub(render, level.text).strip()
        return (label or None), True
