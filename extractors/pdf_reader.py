"""PDF -> Document through pypdfium2's raw API: text runs with font signals, then layout.

Speed matters (whole mailboxes are re-derived), so text is taken per *text object* (one Tj/TJ, at
most one line segment): its bounds, baseline, font and size cost a handful of calls however many
characters it holds. Pages made of very many tiny objects (per-glyph producers) switch to one
call per character instead, because pdfium's per-object text lookup scans the whole page.
The geometry work is in `pdf_lines` (lines, running headers) and `pdf_layout` (columns, paragraphs).
"""

from __future__ import annotations

import ctypes
import math
import re
import struct
import time

import pypdfium2 as pdfium
import pypdfium2.raw as raw

from . import ocr
from .legacy_fonts import convert, detect, font_encoding
from .limits import safe_limits
from .model import Document, Flag, FlagKind
from .pdf_layout import layout_document
from .pdf_lines import Run

_MAX_FORM_DEPTH = 12
_MAX_OBJECTS = 200_000  # per page; beyond this the page is junk, not a report
_SUBSET = re.compile(r"^[A-Z]{6}\+")
_BOLD_NAME = re.compile(r"bold|black|heavy|demi|semibd|,b$|-b$|bd$|\bbd\b", re.I)
_ITALIC_NAME = re.compile(r"italic|oblique|,i$|-i$|kursiv", re.I)
_FORCE_BOLD = 1 << 18
_ITALIC_FLAG = 1 << 6

# The hot calls get prototypes on plain ints (addresses): pypdfium2's typed pointers cost a
# conversion per argument and cannot be compared or hashed cheaply.
_VOIDP = ctypes.c_void_p
_INT = ctypes.c_int


def _address(pointer) -> int:
    """The address a ctypes pointer holds; 0 for NULL, which ctypes passes on as NULL again."""
    return ctypes.cast(pointer, _VOIDP).value or 0


def _proto(function, restype, *argtypes):
    return ctypes.CFUNCTYPE(restype, *argtypes)(_address(function))


_get_text_object = _proto(raw.FPDFText_GetTextObject, _VOIDP, _VOIDP, _INT)
_get_unicode = _proto(raw.FPDFText_GetUnicode, ctypes.c_uint, _VOIDP, _INT)
_page_count_objects = _proto(raw.FPDFPage_CountObjects, _INT, _VOIDP)
_page_get_object = _proto(raw.FPDFPage_GetObject, _VOIDP, _VOIDP, _INT)
_form_count_objects = _proto(raw.FPDFFormObj_CountObjects, _INT, _VOIDP)
_form_get_object = _proto(raw.FPDFFormObj_GetObject, _VOIDP, _VOIDP, ctypes.c_ulong)
_object_type = _proto(raw.FPDFPageObj_GetType, _INT, _VOIDP)
_object_matrix = _proto(raw.FPDFPageObj_GetMatrix, _INT, _VOIDP, _VOIDP)
_object_bounds = _proto(raw.FPDFPageObj_GetBounds, _INT, _VOIDP, _VOIDP, _VOIDP, _VOIDP, _VOIDP)
_text_font_size = _proto(raw.FPDFTextObj_GetFontSize, _INT, _VOIDP, _VOIDP)
_text_font = _proto(raw.FPDFTextObj_GetFont, _VOIDP, _VOIDP)
_text_render_mode = _proto(raw.FPDFTextObj_GetTextRenderMode, _INT, _VOIDP)
_text_of_object = _proto(raw.FPDFTextObj_GetText, ctypes.c_ulong, _VOIDP, _VOIDP, _VOIDP, ctypes.c_ulong)
_page_text = _proto(raw.FPDFText_GetText, _INT, _VOIDP, _INT, _INT, _VOIDP)
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_ELEVEN_FLOATS = struct.Struct("11f")  # reading a ctypes array item by item is far slower


def read_pdf(data: bytes) -> Document:
    """Read a PDF into blocks. Never raises: failures come back as error + flag."""
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code in (raw.FPDF_ERR_PASSWORD, raw.FPDF_ERR_SECURITY):
            return Document("pdf", error="password-protected PDF",
                            flags=[Flag(FlagKind.ENCRYPTED, "password-protected PDF")])
        return Document("pdf", error=f"unreadable PDF ({exc})", flags=[Flag(FlagKind.UNREADABLE, str(exc))])
    except Exception as exc:  # noqa: BLE001 - anything else pdfium raises opening a damaged file is a flag
        return Document("pdf", error=f"unreadable PDF ({exc})",
                        flags=[Flag(FlagKind.UNREADABLE, f"{type(exc).__name__}: {exc}")])
    try:
        return _read(pdf)
    except Exception as exc:  # noqa: BLE001 - anything pdfium or the layout trips on is a flag, not a crash
        detail = f"{type(exc).__name__}: {exc}"
        return Document("pdf", error=f"unreadable PDF ({detail})", flags=[Flag(FlagKind.UNREADABLE, detail)])
    finally:
        pdf.close()


def _read(pdf: pdfium.PdfDocument) -> Document:
    flags: list[Flag] = []
    pages: list[tuple[float, float, list[Run]]] = []
    fonts: dict[int, tuple[str, bool, bool]] = {}
    scans = _Scans()
    legacy: dict[str, int] = {}
    lim = safe_limits()
    total = len(pdf)
    deadline = time.monotonic() + lim.max_seconds_per_file  # checked between pages: a page is not interrupted
    if total > lim.max_pdf_pages:
        flags.append(Flag(FlagKind.TRUNCATED,
                          f"{total} pages: only the first {lim.max_pdf_pages} read (INTAKE_MAX_PDF_PAGES)"))
    for index in range(min(total, lim.max_pdf_pages)):
        if index and time.monotonic() > deadline:
            flags.append(Flag(FlagKind.TIMEOUT, f"stopped after {index} of {total} pages: more than "
                                         f"{lim.max_seconds_per_file:g} s (INTAKE_MAX_SECONDS_PER_FILE)"))
            break
        try:
            page = pdf[index]
        except Exception as exc:  # noqa: BLE001 - a page pdfium cannot load is a flag; the other pages still count
            flags.append(Flag(FlagKind.UNREADABLE, f"page {index + 1}: {exc}"))
            pages.append((612.0, 792.0, []))
            continue
        try:
            left, bottom, right, top = page.get_cropbox()
            width, height = right - left, top - bottom
            runs, images, chars = _page_runs(page, fonts, (left, top))
            for encoding in _legacy(runs):
                legacy[encoding] = legacy.get(encoding, 0) + 1
            if chars == 0 and images > 0:
                runs = scans.read(page, index, flags)
            pages.append((width, height, runs))
        finally:
            page.close()
    blocks = layout_document(pages)
    flags.extend(scans.flags())
    flags.extend(Flag(FlagKind.LEGACY_ENCODING, f"{enc.upper()} text converted to Unicode ({n} pages)")
                 for enc, n in sorted(legacy.items()))
    return Document("pdf", blocks=blocks, flags=flags)


def _legacy(runs: list[Run]) -> set[str]:
    """Convert TCVN3/VNI text in place, judged per font on the page (the encoding belongs to the font)."""
    by_font: dict[str, list[Run]] = {}
    for run in runs:
        by_font.setdefault(run.font, []).append(run)
    found = set()
    for font, group in by_font.items():
        encoding = font_encoding(font) or detect(" ".join(r.text for r in group if not r.text.isascii()))
        if encoding:
            found.add(encoding.split("-")[0])
            for run in group:
                run.text = convert(run.text, encoding)
    return found


class _Scans:
    """Pages without a text layer: OCR them when tesseract is here, else say why they are empty."""

    def __init__(self):
        self.pages = 0
        self.confs: list[float] = []
        self.missing: list[int] = []
        self.reason: str | None = None

    def read(self, page: pdfium.PdfPage, index: int, flags: list[Flag]) -> list[Run]:
        self.reason = self.reason or ocr.unavailable_reason()
        if self.reason:
            flags.append(Flag(FlagKind.NEEDS_OCR, f"page {index + 1}"))
            self.missing.append(index + 1)
            return []
        try:
            runs, confs = ocr.ocr_pdf_page(page)
        except Exception as exc:  # noqa: BLE001 - a failed page is a flag; the other pages still count
            flags.append(Flag(FlagKind.NEEDS_OCR, f"page {index + 1}: OCR failed ({type(exc).__name__}: {exc})"))
            return []
        if not runs:
            flags.append(Flag(FlagKind.NEEDS_OCR, f"page {index + 1}: OCR found no text"))
            return []
        self.pages += 1
        self.confs.extend(confs)
        return runs

    def flags(self) -> list[Flag]:
        out = [ocr.confidence_flag(self.confs, self.pages)] if self.pages else []
        if self.missing:
            out.append(Flag(FlagKind.CONVERTER_MISSING, f"{self.reason}: {len(self.missing)} scanned page(s) not read"))
        return out


def _walk_objects(page_handle: int):
    """(text object address, matrix to page space) for every text object, forms included."""
    texts: list[tuple[int, tuple]] = []
    images = 0
    stack: list[tuple[int | None, tuple, int]] = [(None, _IDENTITY, 0)]
    matrix = raw.FS_MATRIX()
    matrix_at = ctypes.addressof(matrix)
    count = 0
    while stack:
        form, ctm, depth = stack.pop()
        total = _page_count_objects(page_handle) if form is None else _form_count_objects(form)
        for i in range(max(total, 0)):
            obj = _page_get_object(page_handle, i) if form is None else _form_get_object(form, i)
            if not obj:
                continue
            count += 1
            if count > _MAX_OBJECTS:
                return texts, images
            kind = _object_type(obj)
            if kind == raw.FPDF_PAGEOBJ_TEXT:
                texts.append((obj, ctm))
            elif kind == raw.FPDF_PAGEOBJ_IMAGE:
                images += 1
            elif kind == raw.FPDF_PAGEOBJ_FORM and depth < _MAX_FORM_DEPTH:
                _object_matrix(obj, matrix_at)
                inner = (matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f)
                stack.append((obj, _multiply(inner, ctm), depth + 1))
    return texts, images


def _multiply(m: tuple, n: tuple) -> tuple:
    """m then n (PDF row-vector convention)."""
    a, b, c, d, e, f = m
    A, B, C, D, E, F = n
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _apply(m: tuple, x: float, y: float) -> tuple[float, float]:
    return x * m[0] + y * m[2] + m[4], x * m[1] + y * m[3] + m[5]


def _page_runs(page: pdfium.PdfPage, fonts: dict, origin: tuple[float, float]) -> tuple[list[Run], int, int]:
    """Text runs of one page, the number of images, and the number of text characters.
    Run coordinates are points from `origin`, the top-left corner of the visible page, downwards."""
    textpage = page.get_textpage()
    try:
        handle = _address(textpage.raw)
        n_chars = raw.FPDFText_CountChars(textpage.raw)
        texts, images = _walk_objects(_address(page.raw))
        if n_chars <= 0 or not texts:
            return [], images, 0
        if len(texts) * 8 <= n_chars and len(texts) <= 400:
            texts_by_obj = _texts_per_object(texts, handle, n_chars)
        else:
            texts_by_obj = _texts_per_char(handle, n_chars)
        runs = []
        chars = 0
        geometry = _Geometry(*origin)
        for obj, ctm in texts:
            text = texts_by_obj.get(obj)
            if not text or text.isspace():
                continue
            run = geometry.run(obj, ctm, text, fonts)
            if run is not None:
                runs.append(run)
                chars += len(text.strip())
        return runs, images, chars
    finally:
        textpage.close()


def _texts_per_object(texts: list, handle: int, n_chars: int) -> dict[int, str]:
    """pdfium's own text of each object (one call per object; each scans the page)."""
    size = 3 * n_chars + 64
    buffer = (ctypes.c_ushort * size)()
    at = ctypes.addressof(buffer)
    out = {}
    for obj, _ in texts:
        length = _text_of_object(obj, handle, at, size * 2)
        if length > size * 2:
            size = length // 2 + 1
            buffer = (ctypes.c_ushort * size)()
            at = ctypes.addressof(buffer)
            length = _text_of_object(obj, handle, at, size * 2)
        if length > 2:
            text = ctypes.string_at(at, length - 2).decode("utf-16-le", "replace")
            out[obj] = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    return out


def _texts_per_char(handle: int, n_chars: int) -> dict[int, str]:
    """Group the page's characters by the text object that drew them."""
    buffer = (ctypes.c_ushort * (n_chars + 1))()
    written = _page_text(handle, 0, n_chars, ctypes.addressof(buffer))
    page_text = ctypes.string_at(buffer, max(written - 1, 0) * 2).decode("utf-16-le", "replace")
    if len(page_text) != n_chars:  # control characters or surrogates shift indices: ask per char
        page_text = "".join(_char(_get_unicode(handle, i)) for i in range(n_chars))
    objects = [_get_text_object(handle, i) for i in range(n_chars)]
    # cut the page text where the drawing object changes; slices keep the loop per object, not per char
    cuts = [0] + [i for i in range(1, n_chars) if objects[i] != objects[i - 1]] + [n_chars]
    parts: dict[int, list[str]] = {}
    current: list[str] | None = None
    for start, stop in zip(cuts, cuts[1:], strict=False):
        obj = objects[start]
        piece = page_text[start:stop]
        if not obj:  # generated by pdfium: a space or a line break between objects
            if current is not None and " " in piece:
                current.append(" ")
            continue
        bucket = parts.get(obj)
        if bucket is None:
            bucket = parts[obj] = []
        elif bucket is not current:
            bucket.append(" ")  # the object's characters resume after another object's
        current = bucket
        bucket.append(piece.replace("\r", "").replace("\n", "").replace("\x00", ""))
    return {address: "".join(chars) for address, chars in parts.items()}


def _char(code: int) -> str:
    if code in (0, 10, 13) or 0xD800 <= code <= 0xDFFF or code >= 0x110000:
        return "\x00"
    return chr(code)


class _Geometry:
    """Runs from text objects. The out-parameters of the per-object calls are one reused float
    array passed by address: bounds (left, bottom, right, top), matrix (a-f), font size."""

    def __init__(self, left: float, top: float):
        self.left, self.top = left, top
        self.out = (ctypes.c_float * 11)()
        at = ctypes.addressof(self.out)
        self.at = [at + 4 * i for i in range(11)]

    def run(self, obj: int, ctm: tuple, text: str, fonts: dict) -> Run | None:
        at = self.at
        if not _object_bounds(obj, at[0], at[1], at[2], at[3]):
            return None
        _object_matrix(obj, at[4])
        _text_font_size(obj, at[10])
        x0, y0, x1, y1, a, b, c, d, e, f, size = _ELEVEN_FLOATS.unpack_from(self.out)
        full = (a, b, c, d, e, f)
        if ctm is not _IDENTITY:
            corners = [_apply(ctm, x, y) for x in (x0, x1) for y in (y0, y1)]
            x0, x1 = min(c[0] for c in corners), max(c[0] for c in corners)
            y0, y1 = min(c[1] for c in corners), max(c[1] for c in corners)
            full = _multiply(full, ctm)
        scale = math.sqrt(abs(full[0] * full[3] - full[1] * full[2])) or 1.0
        font_size = round(size * scale, 1) or 1.0
        baseline = full[5]
        if not y0 - 1 <= baseline <= y1 + 1:  # odd matrices: fall back on the box
            baseline = y0
        font = _text_font(obj) or 0
        info = fonts.get(font)
        if info is None:
            info = fonts[font] = _font_info(font)
        name, bold, italic = info
        if _text_render_mode(obj) == raw.FPDF_TEXTRENDERMODE_FILL_STROKE:
            bold = True  # "fake bold": glyphs filled and stroked
        left, top = self.left, self.top
        return Run(text, x0 - left, x1 - left, top - y1, top - y0, top - baseline, font_size, name, bold, italic)


def _font_info(address: int) -> tuple[str, bool, bool]:
    if not address:
        return "", False, False
    font = ctypes.cast(_VOIDP(address), raw.FPDF_FONT)
    buffer = ctypes.create_string_buffer(256)
    length = raw.FPDFFont_GetBaseFontName(font, buffer, 256)
    name = buffer.raw[: max(length - 1, 0)].decode("latin-1", "replace") if length else ""
    if not name:
        length = raw.FPDFFont_GetFamilyName(font, buffer, 256)
        name = buffer.raw[: max(length - 1, 0)].decode("latin-1", "replace") if length else ""
    name = _SUBSET.sub("", name)
    flags = raw.FPDFFont_GetFlags(font)
    weight = raw.FPDFFont_GetWeight(font)
    angle = ctypes.c_int(0)
    raw.FPDFFont_GetItalicAngle(font, angle)
    bold = bool(_BOLD_NAME.search(name)) or 600 <= weight <= 1000 or (flags > 0 and bool(flags & _FORCE_BOLD))
    italic = bool(_ITALIC_NAME.search(name)) or angle.value != 0 or (flags > 0 and bool(flags & _ITALIC_FLAG))
    return name, bold, italic
