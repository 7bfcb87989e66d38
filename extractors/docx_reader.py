""".docx (and .docm/.dotx) -> Document: paragraphs and tables in body order, with heading signals.

Works on the lxml tree of the package parts directly (zipfile + a parser that never resolves
entities) instead of python-docx objects: python-docx resolves nothing through style chains, does
not render list numbers, repeats merged cells, and its per-run wrappers are slow.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile

from lxml import etree

from .docx_numbering import Numbering
from .docx_styles import (
    ParaProps,
    RunProps,
    Styles,
    StylesPart,
    names_for,
    parse_xml,
    read_para_props,
    read_run_props,
    theme_fonts,
    to_int,
)
from .legacy_fonts import convert_runs
from .limits import LimitExceeded, safe_limits
from .model import Block, Document, Flag, FlagKind
from .text import repair

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def is_encrypted_ooxml(data: bytes) -> bool:
    """A password-protected .docx is an OLE2 file holding an "EncryptedPackage" stream."""
    return data[:8] == OLE_MAGIC and _ENCRYPTED_STREAM in data


def read_docx(data: bytes) -> Document:
    """Read a WordprocessingML package. Never raises: failures come back as error + flag."""
    if is_encrypted_ooxml(data):
        return Document("docx", error="password-protected .docx",
                        flags=[Flag(FlagKind.ENCRYPTED, "password-protected .docx")])
    if data[:8] == OLE_MAGIC:
        return Document("docx", error="OLE2 file, not a .docx (probably a .doc)",
                        flags=[Flag(FlagKind.UNREADABLE, "OLE2 file, not a .docx")])
    try:
        return _Reader(_Package(data)).read()
    except LimitExceeded as exc:  # a bomb or a monster part: named as such, not as "unreadable"
        return Document("docx", error=f"not read: {exc.detail}", flags=[Flag(exc.kind, exc.detail)])
    except Exception as exc:  # noqa: BLE001 - corrupt zip, broken XML, anything: a flag, never a crash
        detail = f"{type(exc).__name__}: {exc}"
        return Document("docx", error=f"unreadable .docx ({detail})", flags=[Flag(FlagKind.UNREADABLE, detail)])


class _Package:
    """The zip and its relationships, parts parsed on demand with the safe parser."""

    def __init__(self, data: bytes):
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        self.infos = {info.filename.lower(): info for info in self.zip.infolist()}
        main = None
        for rel_type, target in self.rels("_rels/.rels", "").values():
            if rel_type.endswith("/officeDocument"):
                main = target
                break
        if main is None or main.lower() not in self.infos:
            main = "word/document.xml"
        if main.lower() not in self.infos:
            raise ValueError("no word/document.xml in the package")
        self.main = main
        self.main_rels = self.rels(self._rels_name(main), posixpath.dirname(main))

    @staticmethod
    def _rels_name(part: str) -> str:
        return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")

    def read(self, name: str) -> bytes | None:
        info = self.infos.get(name.lower())
        if info is None:
            return None
        lim = safe_limits()
        if info.file_size > lim.max_xml_bytes:  # the declared size; zipfile never inflates past it
            raise LimitExceeded(FlagKind.TOO_LARGE, f"part {name} is {info.file_size} bytes uncompressed, "
                                f"above {lim.max_xml_bytes} (INTAKE_MAX_XML_MB)")
        data = self.zip.read(info)
        # Every element starts with "<": counting them (in C) bounds the tree before lxml builds it.
        if name.lower().endswith((".xml", ".rels")) and data.count(b"<") > lim.max_xml_elements:
            raise LimitExceeded(FlagKind.TOO_LARGE, f"part {name} has more than {lim.max_xml_elements} XML tags "
                                "(INTAKE_MAX_XML_ELEMENTS)")
        return data

    def xml(self, name: str | None) -> etree._Element | None:
        data = self.read(name) if name else None
        return parse_xml(data) if data else None

    def rels(self, name: str, base: str) -> dict[str, tuple[str, str]]:
        """rId -> (relationship type, part name) for internal targets."""
        root = self.xml(name)
        out: dict[str, tuple[str, str]] = {}
        if root is None:
            return out
        for rel in root.iter(f"{{{_REL_NS}}}Relationship"):
            target = rel.get("Target")
            if rel.get("TargetMode") == "External" or not target:
                continue
            target = target.replace("\\", "/")
            target = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))
            out[rel.get("Id", "")] = (rel.get("Type", ""), target)
        return out

    def related(self, suffix: str) -> str | None:
        for rel_type, target in self.main_rels.values():
            if rel_type.endswith(suffix):
                return target
        return None


def _rid(el: etree._Element) -> str | None:
    for key, value in el.attrib.items():
        if key.endswith("}id"):  # r:id in the transitional or strict relationships namespace
            return value
    return None


_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]", re.S)


class _Reader:
    def __init__(self, pkg: _Package):
        self.pkg = pkg
        root = pkg.xml(pkg.main)
        if root is None:
            raise ValueError(f"{pkg.main} is empty")
        self.root = root
        n = self.n = names_for(self.root)
        themes = theme_fonts(pkg.xml(pkg.related("/theme")))
        styles_part = pkg.related("/styles")
        self.styles = Styles(StylesPart(pkg.read(styles_part) if styles_part else None), n, themes)
        self.numbering_root = pkg.xml(pkg.related("/numbering"))
        self.numbering = Numbering(self.numbering_root, n, self.styles)
        self.themes = themes
        self.blocks: list[Block] = []
        self.tables = 0
        self.section_refs: list[etree._Element] = []
        self._char_styles: dict[str | None, RunProps] = {None: RunProps()}
        self._para_base: dict[str | None, RunProps] = {}
        self.legacy: dict[str, int] = {}  # encoding -> paragraphs converted from TCVN3/VNI
        self._inline_dispatch = {n.hyperlink, n.smartTag, n.ins, n.moveTo, n.fldSimple, n.customXml, n.dir, n.bdo}

    # ---- stories -----------------------------------------------------------------------------
    def read(self) -> Document:
        n = self.n
        body = self.root.find(n.body)
        if body is None:
            raise ValueError("document.xml has no w:body")
        self._container(body, "body", None)
        self._headers_footers()
        for suffix, tag in (("/footnotes", n.footnote), ("/endnotes", n.endnote)):
            root = self.pkg.xml(self.pkg.related(suffix))
            if root is not None:
                for note in root.iter(tag):
                    if note.get(n.a_type) in (None, "normal"):  # skip separator notes
                        self._container(note, "note", None)
        flags = [Flag(FlagKind.LEGACY_ENCODING, f"{enc.upper()} text converted to Unicode ({count} paragraphs)")
                 for enc, count in sorted(self.legacy.items())]
        return Document("docx", blocks=self.blocks, flags=flags)

    def _headers_footers(self) -> None:
        n = self.n
        seen: set[str] = set()
        order: list[tuple[str, str]] = []
        for tag, origin in ((n.headerReference, "header"), (n.footerReference, "footer")):
            for sect in self.section_refs:
                for ref in sect.iter(tag):
                    target = self.pkg.main_rels.get(_rid(ref) or "", ("", None))[1]
                    if target and target not in seen:
                        seen.add(target)
                        order.append((target, origin))
        numbering = self.numbering
        for target, origin in order:
            root = self.pkg.xml(target)
            if root is not None:
                self.numbering = Numbering(self.numbering_root, n, self.styles)  # own counters per story
                self._container(root, origin, None)
        self.numbering = numbering

    # ---- block level -------------------------------------------------------------------------
    def _container(self, parent: etree._Element, origin: str, cell: tuple[int, int, int] | None) -> None:
        n = self.n
        for child in parent:
            tag = child.tag
            if tag == n.p:
                self._paragraph(child, origin, cell)
            elif tag == n.tbl:
                self._table(child, origin)
            elif tag == n.sdt:
                content = child.find(n.sdtContent)
                if content is not None:
                    self._container(content, origin, cell)
            elif tag == n.customXml:
                self._container(child, origin, cell)
            elif tag == n.alternate:
                branch = self._branch(child)
                if branch is not None:
                    self._container(branch, origin, cell)
            elif tag == n.sectPr:
                self.section_refs.append(child)

    def _branch(self, alternate: etree._Element) -> etree._Element | None:
        """One copy of mc:AlternateContent: the first Choice, else the Fallback (never both)."""
        n = self.n
        choice = alternate.find(n.choice)
        return choice if choice is not None else alternate.find(n.fallback)

    def _table(self, tbl: etree._Element, origin: str) -> None:
        n = self.n
        table_no = self.tables
        self.tables += 1
        row_no = 0
        for tr in self._flatten(tbl, n.tr):
            col = 0
            trpr = tr.find(n.trPr)
            if trpr is not None:
                before = trpr.find(n.gridBefore)
                col = (to_int(before.get(n.a_val)) or 0) if before is not None else 0
            for tc in self._flatten(tr, n.tc):
                span = 1
                merged = False
                tcpr = tc.find(n.tcPr)
                if tcpr is not None:
                    grid = tcpr.find(n.gridSpan)
                    span = max(to_int(grid.get(n.a_val)) or 1, 1) if grid is not None else 1
                    vmerge = tcpr.find(n.vMerge)
                    merged = vmerge is not None and vmerge.get(n.a_val, "continue") == "continue"
                if not merged:  # a vertically merged continuation repeats nothing
                    self._container(tc, origin, (table_no, row_no, col))
                col += span
            row_no += 1

    def _flatten(self, parent: etree._Element, tag: str):
        """Children with `tag`, looking through content controls and custom XML wrappers."""
        n = self.n
        for child in parent:
            if child.tag == tag:
                yield child
            elif child.tag == n.sdt:
                content = child.find(n.sdtContent)
                if content is not None:
                    yield from self._flatten(content, tag)
            elif child.tag == n.customXml:
                yield from self._flatten(child, tag)

    # ---- paragraphs --------------------------------------------------------------------------
    def _paragraph(self, p: etree._Element, origin: str, cell: tuple[int, int, int] | None) -> None:
        n = self.n
        ppr = p[0] if len(p) and p[0].tag == n.pPr else None  # pPr comes first by the schema
        direct = read_para_props(ppr, n)
        if direct.section is not None:
            self.section_refs.append(direct.section)
        style = self.styles.paragraph_style(direct.style_id)
        style_para = style.para if style is not None else ParaProps()
        runs: list[tuple[str, RunProps]] = []
        boxes: list[etree._Element] = []
        base = self._paragraph_run_base(style)
        self._inline(p, runs, boxes, base)
        if runs:
            # legacy-font bytes must become Unicode before repair(): TCVN3 "ư" is a soft hyphen
            texts, encoding = convert_runs([(t, props.font) for t, props in runs])
            if encoding:
                runs = [(t, props) for t, (_, props) in zip(texts, runs, strict=True)]
                self.legacy[encoding] = self.legacy.get(encoding, 0) + 1

        num_id = direct.num_id if direct.num_id is not None else style_para.num_id
        label, list_item = None, False
        ilvl = 0
        if num_id is not None:
            declared = direct.ilvl if direct.ilvl is not None else style_para.ilvl
            if declared is None:
                declared = self.numbering.level_for_style(num_id, style.style_id if style else None) or 0
            ilvl = declared
            label, list_item = self.numbering.next_label(num_id, ilvl)
        text = repair("".join(t for t, _ in runs))
        if text:
            block = self._block(text, runs, origin, cell)
            block.style = style.name if style is not None else None
            outline = direct.outline if direct.outline is not None else style_para.outline
            block.outline_level = outline if outline is not None and 0 <= outline < 9 else None
            block.number_label = label
            block.list_item = list_item
            indent = direct.indent
            if indent is None and list_item:
                indent = self.numbering.indent(num_id, ilvl)
            if indent is None:
                indent = style_para.indent if style_para.indent is not None else self.styles.default_para.indent
            block.indent = indent if indent is not None else 0.0
            block.align = direct.align or style_para.align or self.styles.default_para.align or "left"
            self.blocks.append(block)
        for box in boxes:  # text boxes anchored in this paragraph follow it
            self._container(box, "textbox", None)

    def _paragraph_run_base(self, style) -> RunProps:
        key = style.style_id if style is not None else None
        cached = self._para_base.get(key)
        if cached is None:
            cached = (style.run if style is not None else RunProps()).under(self.styles.default_run)
            self._para_base[key] = cached
        return cached

    def _char_style(self, style_id: str | None) -> RunProps:
        props = self._char_styles.get(style_id)
        if props is None:
            style = self.styles.get(style_id)
            props = style.run if style is not None else RunProps()
            self._char_styles[style_id] = props
        return props

    def _block(self, text: str, runs: list[tuple[str, RunProps]], origin: str, cell) -> Block:
        """Paragraph signals weighted by the characters each run carries."""
        total = bold = italic = caps = 0
        sizes: dict[float, int] = {}
        fonts: dict[str, int] = {}
        for run_text, props in runs:
            weight = len(run_text) - run_text.count(" ") - run_text.count("\n")
            if weight <= 0:
                continue
            total += weight
            if props.bold:
                bold += weight
            if props.italic:
                italic += weight
            if props.caps:
                caps += weight
            if props.size is not None:
                sizes[props.size] = sizes.get(props.size, 0) + weight
            if props.font:
                fonts[props.font] = fonts.get(props.font, 0) + weight
        threshold = 0.8 * total
        written_caps = text.isupper() and _TWO_LETTERS.search(text) is not None
        return Block(
            text=text,
            origin=origin,
            cell=cell,
            bold=total > 0 and bold >= threshold,
            italic=total > 0 and italic >= threshold,
            caps=(total > 0 and caps >= threshold) or written_caps,
            font_size=max(sizes, key=sizes.__getitem__) if sizes else None,
            font_name=max(fonts, key=fonts.__getitem__) if fonts else None,
        )

    def _inline(self, parent: etree._Element, runs: list, boxes: list, base: RunProps) -> None:
        n = self.n
        for child in parent:
            tag = child.tag
            if tag == n.r:
                self._run(child, runs, boxes, base)
            elif tag in self._inline_dispatch:
                self._inline(child, runs, boxes, base)
            elif tag == n.sdt:
                content = child.find(n.sdtContent)
                if content is not None:
                    self._inline(content, runs, boxes, base)
            elif tag == n.alternate:
                branch = self._branch(child)
                if branch is not None:
                    self._inline(branch, runs, boxes, base)
            # w:del, w:moveFrom, bookmarks, comments, proofing marks: not live text

    def _run(self, r: etree._Element, runs: list, boxes: list, base: RunProps) -> None:
        n = self.n
        parts: list[str] = []
        rpr = None
        for child in r:
            tag = child.tag
            if tag == n.t:
                parts.append(child.text or "" if len(child) == 0 else _element_text(child))
            elif tag == n.rPr:
                rpr = child
            elif tag == n.tab or tag == n.ptab:
                parts.append(" ")
            elif tag == n.br or tag == n.cr:
                parts.append("\n")
            elif tag == n.noBreakHyphen:
                parts.append("-")
            elif tag == n.sym:
                parts.append(_symbol(child.get(n.a_char)))
            elif tag == n.drawing or tag == n.pict or tag == n.object:
                boxes.extend(_outer_boxes(child, n.txbxContent))
            elif tag == n.alternate:
                branch = self._branch(child)
                if branch is not None:
                    # a run-level AlternateContent holds drawings (text boxes) or run content
                    self._run_like(branch, parts, boxes)
            elif tag == n.footnoteReference or tag == n.endnoteReference:
                return  # a note's mark, and the custom mark ("*") that may follow it in the run: not text
            # w:instrText (field codes), w:delText (deleted text), w:fldChar: never text
        if not parts:
            return
        direct, char_style, hidden = read_run_props(rpr, n, self.themes)
        if hidden:
            return
        props = direct.under(self._char_style(char_style)).under(base) if rpr is not None else base
        runs.append(("".join(parts), props))

    def _run_like(self, branch: etree._Element, parts: list, boxes: list) -> None:
        n = self.n
        for child in branch:
            tag = child.tag
            if tag == n.t:
                parts.append(_element_text(child))
            elif tag == n.tab:
                parts.append(" ")
            elif tag == n.br or tag == n.cr:
                parts.append("\n")
            elif tag == n.drawing or tag == n.pict or tag == n.object:
                boxes.extend(_outer_boxes(child, n.txbxContent))


def _element_text(el: etree._Element) -> str:
    """Text of a w:t, skipping unresolved entity references (they are never expanded)."""
    out = [el.text or ""]
    for child in el:
        out.append(child.tail or "")
    return "".join(out)


def _outer_boxes(el: etree._Element, tag: str) -> list[etree._Element]:
    """txbxContent elements under `el` that are not inside another text box (those come later)."""
    found = []
    for box in el.iter(tag):
        parent = box.getparent()
        nested = False
        while parent is not None and parent is not el:
            if parent.tag == tag:
                nested = True
                break
            parent = parent.getparent()
        if not nested and not _in_fallback(box, el):
            found.append(box)
    return found


def _in_fallback(box: etree._Element, stop: etree._Element) -> bool:
    """Inside a drawing, mc:Fallback copies duplicate the mc:Choice ones."""
    parent = box.getparent()
    fallback = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
    while parent is not None and parent is not stop:
        if parent.tag == fallback:
            return True
        parent = parent.getparent()
    return False


def _symbol(code: str | None) -> str:
    """w:sym: symbol-font characters live in the private use area (F0xx); keep real characters only."""
    try:
        value = int(code, 16) if code else None
    except ValueError:
        value = None
    if value is None or 0xF000 <= value <= 0xF0FF or value < 32:
        return ""
    return chr(value)


__all__ = ["read_docx", "is_encrypted_ooxml", "OLE_MAGIC"]
