"""WordprocessingML names, safe XML parsing and style resolution for the .docx reader.

Styles are resolved once per document into plain objects (following `w:basedOn`), so the reader
never walks a style chain per run: that is what keeps it faster than python-docx's wrappers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

W_TRANSITIONAL = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
A_MAIN = "http://schemas.openxmlformats.org/drawingml/2006/main"

# No DTD loading, no entity expansion, no network: a .docx is untrusted input (XXE, entity bombs).
SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, dtd_validation=False
)


def parse_xml(data: bytes) -> etree._Element:
    return etree.fromstring(data, SAFE_PARSER)


_TAGS = (
    "p r t tab ptab br cr sym noBreakHyphen softHyphen tbl tr tc tcPr gridSpan vMerge gridBefore "
    "sdt sdtContent customXml hyperlink smartTag ins moveTo fldSimple dir bdo drawing pict object "
    "txbxContent pPr rPr pStyle rStyle numPr ilvl numId outlineLvl b i caps smallCaps sz rFonts ind "
    "jc vanish style name basedOn docDefaults rPrDefault pPrDefault sectPr headerReference "
    "footerReference footnote endnote body abstractNum abstractNumId num lvl start numFmt lvlText "
    "lvlRestart isLgl lvlOverride startOverride numStyleLink styleLink trPr tblPr footnoteReference endnoteReference"
).split()
_ATTRS = "val ascii hAnsi asciiTheme hAnsiTheme left start type styleId default char ilvl numId abstractNumId".split()


class Names:
    """Clark-notation tag and attribute names for one WordprocessingML namespace (transitional or strict)."""

    def __init__(self, ns: str):
        self.ns = ns
        for tag in _TAGS:
            setattr(self, tag, f"{{{ns}}}{tag}")
        for attr in _ATTRS:
            setattr(self, "a_" + attr, f"{{{ns}}}{attr}")
        self.alternate = f"{{{MC}}}AlternateContent"
        self.choice = f"{{{MC}}}Choice"
        self.fallback = f"{{{MC}}}Fallback"

    def __getattr__(self, item: str) -> str:  # pragma: no cover - only reached on a typo
        raise AttributeError(item)


def names_for(root: etree._Element) -> Names:
    ns = etree.QName(root).namespace or W_TRANSITIONAL
    return Names(ns if ns in (W_TRANSITIONAL, W_STRICT) else W_TRANSITIONAL)


_OFF = {"0", "false", "off", "none"}


def on_off(el: etree._Element, n: Names) -> bool:
    """A toggle property: present means on unless w:val says 0/false/off."""
    val = el.get(n.a_val)
    return val is None or val.lower() not in _OFF


def to_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        try:
            return int(float(value))  # some producers write "240.0"
        except (TypeError, ValueError):
            return None


# python-docx shows built-in styles by their UI names ("heading 1" is stored, "Heading 1" shown).
_UI_NAMES = {"caption": "Caption", "footer": "Footer", "header": "Header", "title": "Title",
             "subtitle": "Subtitle", "normal": "Normal"}


def ui_name(name: str | None) -> str | None:
    if not name:
        return name
    low = name.lower()
    if low.startswith("heading ") and low[8:].isdigit():
        return "Heading " + low[8:]
    return _UI_NAMES.get(low, name)


@dataclass
class RunProps:
    """Character formatting; None means "not set here, inherit"."""

    bold: bool | None = None
    italic: bool | None = None
    caps: bool | None = None
    size: float | None = None  # points
    font: str | None = None

    def under(self, base: RunProps) -> RunProps:
        """These properties with the gaps filled from `base`."""
        return RunProps(
            self.bold if self.bold is not None else base.bold,
            self.italic if self.italic is not None else base.italic,
            self.caps if self.caps is not None else base.caps,
            self.size if self.size is not None else base.size,
            self.font if self.font is not None else base.font,
        )


@dataclass
class ParaProps:
    outline: int | None = None
    indent: float | None = None  # left indent, points
    align: str | None = None
    num_id: str | None = None
    ilvl: int | None = None
    style_id: str | None = None  # pStyle of a paragraph (not inherited)
    section: etree._Element | None = None  # a w:sectPr ending this paragraph's section

    def under(self, base: ParaProps) -> ParaProps:
        return ParaProps(
            self.outline if self.outline is not None else base.outline,
            self.indent if self.indent is not None else base.indent,
            self.align if self.align is not None else base.align,
            self.num_id if self.num_id is not None else base.num_id,
            self.ilvl if self.ilvl is not None else base.ilvl,
        )


@dataclass
class Style:
    style_id: str
    name: str | None
    kind: str  # paragraph | character | table | numbering
    run: RunProps
    para: ParaProps


_ALIGN = {"both": "justify", "distribute": "justify", "start": "left", "end": "right",
          "left": "left", "right": "right", "center": "center", "lowKashida": "justify",
          "mediumKashida": "justify", "highKashida": "justify", "thaiDistribute": "justify"}

_THEME_SLOTS = ("majorHAnsi", "majorAscii", "minorHAnsi", "minorAscii")


def theme_fonts(theme_root: etree._Element | None) -> dict[str, str]:
    """Theme font slots ("majorHAnsi", "minorAscii" ...) to typeface names."""
    if theme_root is None:
        return {}
    out: dict[str, str] = {}
    for kind in ("major", "minor"):
        latin = theme_root.find(f".//{{{A_MAIN}}}{kind}Font/{{{A_MAIN}}}latin")
        face = latin.get("typeface") if latin is not None else None
        if face:
            out[kind + "HAnsi"] = out[kind + "Ascii"] = face
    return out


def read_run_props(rpr: etree._Element | None, n: Names, themes: dict[str, str]) -> tuple[RunProps, str | None, bool]:
    """Direct run properties of an rPr element, its character style id, and whether it is hidden."""
    props = RunProps()
    if rpr is None:
        return props, None, False
    style_id = None
    hidden = False
    for ch in rpr:
        tag = ch.tag
        if tag == n.b:
            props.bold = on_off(ch, n)
        elif tag == n.i:
            props.italic = on_off(ch, n)
        elif tag == n.caps or tag == n.smallCaps:
            if on_off(ch, n) or props.caps is None:
                props.caps = on_off(ch, n)
        elif tag == n.sz:
            half = to_int(ch.get(n.a_val))
            if half is not None and half > 0:
                props.size = half / 2
        elif tag == n.rFonts:
            font = ch.get(n.a_ascii) or ch.get(n.a_hAnsi)
            if not font:
                slot = ch.get(n.a_asciiTheme) or ch.get(n.a_hAnsiTheme)
                font = themes.get(slot) if slot else None
            if font:
                props.font = font
        elif tag == n.rStyle:
            style_id = ch.get(n.a_val)
        elif tag == n.vanish:
            hidden = on_off(ch, n)
    return props, style_id, hidden


def read_para_props(ppr: etree._Element | None, n: Names) -> ParaProps:
    props = ParaProps()
    if ppr is None:
        return props
    for ch in ppr:
        tag = ch.tag
        if tag == n.outlineLvl:
            lvl = to_int(ch.get(n.a_val))
            props.outline = lvl if lvl is not None else None
        elif tag == n.ind:
            left = ch.get(n.a_left) if ch.get(n.a_left) is not None else ch.get(n.a_start)
            twips = to_int(left)
            if twips is not None:
                props.indent = twips / 20
        elif tag == n.jc:
            props.align = _ALIGN.get(ch.get(n.a_val) or "", None)
        elif tag == n.pStyle:
            props.style_id = ch.get(n.a_val)
        elif tag == n.numPr:
            for sub in ch:
                if sub.tag == n.numId:
                    props.num_id = sub.get(n.a_val)
                elif sub.tag == n.ilvl:
                    props.ilvl = to_int(sub.get(n.a_val))
        elif tag == n.sectPr:
            props.section = ch
    return props


# styles.xml, up to the root's start tag: no DTD, comment or CDATA anywhere (checked apart), UTF-8
_STYLES_ROOT = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml(?P<decl>[^>]*)\?>)?\s*"
                          rb"<(?:(?P<prefix>[A-Za-z_][\w.\-]*):)?styles(?=[\s/>])[^>]*>")
_UTF8_DECL = re.compile(rb"\bencoding\s*=\s*[\"']utf-?8[\"']", re.IGNORECASE)


class StylesPart:
    """styles.xml with each style's content parsed only when a paragraph or run uses it.

    Word's and python-docx's templates hold over a hundred styles, most of them table styles no
    paragraph refers to: parsing all of them was most of the time of reading a .docx. The part is
    parsed as a skeleton (every w:style reduced to its start tag, so ids, types and defaults are
    all there) and a style's own XML when it is first resolved. Anything unusual (another encoding,
    a DTD, comments, a style that is not a child of the root) is parsed whole, as before."""

    def __init__(self, data: bytes | None):
        self.root: etree._Element | None = None
        self._data = data or b""
        self._chunks: dict[etree._Element, tuple[int, bytes]] = {}
        self._wrap = (b"", b"")
        self._whole: list[etree._Element] | None = None
        if data and not self._split(data):
            self.root = parse_xml(data)

    def _split(self, data: bytes) -> bool:
        head = _STYLES_ROOT.match(data)
        if head is None or b"<!" in data or data.count(b"<?") > (1 if head["decl"] is not None else 0):
            return False
        if head["decl"] is not None and b"encoding" in head["decl"] and not _UTF8_DECL.search(head["decl"]):
            return False
        prefix = re.escape(head["prefix"] + b":") if head["prefix"] else b""
        start = re.compile(b"<" + prefix + rb"style(?=[\s/>])[^>]*>")
        end = re.compile(b"</" + prefix + rb"style\s*>")
        pieces, chunks, at = [], [], head.end()
        while (tag := start.search(data, at)) is not None:
            if tag.group().endswith(b"/>"):
                stop = tag.end()
            else:
                close = end.search(data, tag.end())
                if close is None:
                    return False
                stop = close.end()
            pieces += [data[at:tag.start()], tag.group()[:-1].rstrip(b"/") + b"/>"]
            chunks.append(data[tag.start():stop])
            at = stop
        pieces.append(data[at:])
        try:
            root = parse_xml(b"".join((data[:head.end()], *pieces)))
        except etree.XMLSyntaxError:
            return False
        tag_name = f"{{{etree.QName(root).namespace}}}style" if etree.QName(root).namespace else "style"
        placeholders = list(root.iterchildren(tag_name))
        if len(placeholders) != len(chunks) or sum(1 for _ in root.iter(tag_name)) != len(chunks):
            return False  # a style somewhere else than under the root: read the part whole
        self.root = root
        self._chunks = {el: (i, chunk) for i, (el, chunk) in enumerate(zip(placeholders, chunks, strict=True))}
        self._wrap = (data[:head.end()], b"</" + (head["prefix"] + b":" if head["prefix"] else b"") + b"styles>")
        return True

    def style(self, el: etree._Element) -> etree._Element:
        """The whole w:style element for one of the root's w:style children."""
        found = self._chunks.get(el)
        if found is None:
            return el  # the part was parsed whole
        index, chunk = found
        try:
            return parse_xml(self._wrap[0] + chunk + self._wrap[1])[0]
        except etree.XMLSyntaxError:  # cannot stand alone after all: the part parsed whole has it
            if self._whole is None:
                self._whole = list(parse_xml(self._data).iterchildren(str(el.tag)))  # a w:style tag is a str
            return self._whole[index]


class Styles:
    """All styles of a document, each resolved through its basedOn chain, plus document defaults."""

    def __init__(self, part: StylesPart, n: Names, themes: dict[str, str]):
        root = part.root
        self.part = part
        self.n = n
        self.themes = themes
        self.default_run = RunProps()
        self.default_para = ParaProps()
        self.default_paragraph_style: str | None = None
        raw: dict[str, etree._Element] = {}
        if root is not None:
            defaults = root.find(n.docDefaults)
            if defaults is not None:
                rpr = defaults.find(f"{n.rPrDefault}/{n.rPr}")
                self.default_run = read_run_props(rpr, n, themes)[0]
                self.default_para = read_para_props(defaults.find(f"{n.pPrDefault}/{n.pPr}"), n)
            for el in root.iterchildren(n.style):  # styles are children of w:styles
                sid = el.get(n.a_styleId)
                if sid is None or sid in raw:
                    continue
                raw[sid] = el  # the rest of it is read when a paragraph or run uses the style
                if on_off_attr(el.get(n.a_default)) and el.get(n.a_type, "paragraph") == "paragraph":
                    self.default_paragraph_style = self.default_paragraph_style or sid
        self._raw = raw
        self._resolved: dict[str, Style | None] = {}  # filled on demand: documents use few of their styles

    def get(self, sid: str | None) -> Style | None:
        if not sid:
            return None
        if sid not in self._resolved:
            self._resolved[sid] = self._resolve(sid, set())
        return self._resolved[sid]

    def _resolve(self, sid: str, seen: set[str]) -> Style | None:
        if sid in self._resolved:
            return self._resolved[sid]
        if sid not in self._raw or sid in seen:  # unknown or a basedOn cycle
            return None
        seen.add(sid)
        el = self.part.style(self._raw[sid])
        n = self.n
        based = el.find(n.basedOn)
        based_on = based.get(n.a_val) if based is not None else None
        name_el = el.find(n.name)
        name = ui_name(name_el.get(n.a_val) if name_el is not None else sid)
        run = read_run_props(el.find(n.rPr), n, self.themes)[0]
        para = read_para_props(el.find(n.pPr), n)
        if para.outline is None and name and name.startswith("Heading ") and name[8:].isdigit():
            para.outline = int(name[8:]) - 1  # built-in heading styles imply their outline level
        base = self._resolve(based_on, seen) if based_on else None
        if base is not None:
            run = run.under(base.run)
            para = para.under(base.para)
        style = Style(sid, name, el.get(n.a_type, "paragraph"), run, para)
        self._resolved[sid] = style
        return style

    def paragraph_style(self, sid: str | None) -> Style | None:
        style = self.get(sid)
        if style is None and self.default_paragraph_style:
            style = self.get(self.default_paragraph_style)
        return style


def on_off_attr(value: str | None) -> bool:
    return value is not None and value.lower() not in _OFF
