"""PDF -> Document through pypdfium2's raw API: text runs with font signals, then layout.

Speed matters (whole mailboxes are re-derived), so text is taken per *text object* (one Tj/TJ, at
most one line segment): its bounds, baseline, font and size cost a handful of calls however many
characters it holds, and its text is cut from the page's text where pdfium says the drawing
object changes (`_texts_per_run`).
The geometry work is in `pdf_lines` (lines, running headers) and `pdf_layout` (columns, paragraphs).
"""

from __future__ import annotations

import ctypes
import hashlib
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

# pdfium is called through prototypes without argument types: ctypes then passes a handle, a
# `byref` or a Python int (a C int) as it is, where declared types convert every argument on every
# call (a third of the cost of a call with five). Handles come back as `_Handle`s, which ctypes
# leaves as they are, ready to be passed on. The calls that take a microsecond (`_quick`: per text
# object, per character probed) keep the GIL, since releasing and taking it back costs a tenth of them.
class _Handle(ctypes.c_void_p):
    """A pdfium handle (page, text page, page object), false when NULL."""


def _call(function, restype, prototype=ctypes.CFUNCTYPE):
    return prototype(restype)(ctypes.cast(function, ctypes.c_void_p).value)


def _quick(function, restype):
    return _call(function, restype, ctypes.PYFUNCTYPE)


_INT = ctypes.c_int
_load_page = _call(raw.FPDF_LoadPage, _Handle)
_close_page = _call(raw.FPDF_ClosePage, None)
_load_text_page = _call(raw.FPDFText_LoadPage, _Handle)
_close_text_page = _call(raw.FPDFText_ClosePage, None)
_count_chars = _quick(raw.FPDFText_CountChars, _INT)
_crop_box = _quick(raw.FPDFPage_GetCropBox, _INT)
_media_box = _quick(raw.FPDFPage_GetMediaBox, _INT)
_get_text_object = _quick(raw.FPDFText_GetTextObject, ctypes.c_void_p)  # an address (int), or None
_get_unicode = _quick(raw.FPDFText_GetUnicode, ctypes.c_uint)
_page_count_objects = _quick(raw.FPDFPage_CountObjects, _INT)
_page_get_object = _quick(raw.FPDFPage_GetObject, _Handle)
_form_count_objects = _quick(raw.FPDFFormObj_CountObjects, _INT)
_form_get_object = _quick(raw.FPDFFormObj_GetObject, _Handle)  # its index is an unsigned long: c_ulong
_object_type = _quick(raw.FPDFPageObj_GetType, _INT)
_object_matrix = _quick(raw.FPDFPageObj_GetMatrix, _INT)
_object_bounds = _quick(raw.FPDFPageObj_GetBounds, _INT)
_text_font_size = _quick(raw.FPDFTextObj_GetFontSize, _INT)
_text_font = _quick(raw.FPDFTextObj_GetFont, ctypes.c_void_p)  # an address (int), or None
_text_render_mode = _quick(raw.FPDFTextObj_GetTextRenderMode, _INT)
_page_text = _quick(raw.FPDFText_GetText, _INT)
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_ELEVEN_FLOATS = struct.Struct("11f")  # reading a ctypes array item by item is far slower
_LINE = re.compile(r"[^\r\n]+")  # pdfium ends each line of the page text with a CR LF of its own
_WORD_BREAKS = str.maketrans({"\x02": "-", "\ufffe": "-"})
_UNPRINTED = str.maketrans({"\r": " ", "\n": " ", "\x00": None})  # line ends an object drew, NULs


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
        return _read(pdf, data)
    except Exception as exc:  # noqa: BLE001 - anything pdfium or the layout trips on is a flag, not a crash
        detail = f"{type(exc).__name__}: {exc}"
        return Document("pdf", error=f"unreadable PDF ({detail})", flags=[Flag(FlagKind.UNREADABLE, detail)])
    finally:
        pdf.close()


def _read(pdf: pdfium.PdfDocument, data: bytes) -> Document:
    flags: list[Flag] = []
    pages: list[tuple[float, float, list[Run]]] = []
    fonts: dict[int, tuple[str, bool, bool]] = {}
    scans = _Scans(data)
    legacy: dict[str, int] = {}
    lim = safe_limits()
    total = len(pdf)
    deadline = time.monotonic() + lim.max_seconds_per_file  # checked between pages: a page is not interrupted
    if total > lim.max_pdf_pages:
        flags.append(Flag(FlagKind.TRUNCATED,
                          f"{total} pages: only the first {lim.max_pdf_pages} read (INTAKE_MAX_PDF_PAGES)"))
    document = pdf.raw
    for index in range(min(total, lim.max_pdf_pages)):
        if index and time.monotonic() > deadline:
            flags.append(Flag(FlagKind.TIMEOUT, f"stopped after {index} of {total} pages: more than "
                                         f"{lim.max_seconds_per_file:g} s (INTAKE_MAX_SECONDS_PER_FILE)"))
            break
        page = _load_page(document, index)  # raw: pypdfium2's page objects cost more than a report's text
        if not page:  # a page pdfium cannot load is a flag; the other pages still count
            flags.append(Flag(FlagKind.UNREADABLE, f"page {index + 1}: Failed to load page."))
            pages.append((612.0, 792.0, []))
            continue
        try:
            left, bottom, right, top = _page_box(page)
            width, height = right - left, top - bottom
            runs, images = _page_runs(page, fonts, (left, top))
            for encoding in _legacy(runs):
                legacy[encoding] = legacy.get(encoding, 0) + 1
            if not runs and images > 0:  # no text drawn, pictures: a scan
                scanned = pdf[index]  # rendered through pypdfium2
                try:
                    runs = scans.read(scanned, index, flags)
                finally:
                    scanned.close()
            pages.append((width, height, runs))
        finally:
            _close_page(page)
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

    def __init__(self, document: bytes):
        self.document = document
        self._digest: bytes | None = None
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
            runs, confs = ocr.ocr_pdf_page(page, self.digest, index)
        except Exception as exc:  # noqa: BLE001 - a failed page is a flag; the other pages still count
            flags.append(Flag(FlagKind.NEEDS_OCR, f"page {index + 1}: OCR failed ({type(exc).__name__}: {exc})"))
            return []
        if not runs:
            flags.append(Flag(FlagKind.NEEDS_OCR, f"page {index + 1}: OCR found no text"))
            return []
        self.pages += 1
        self.confs.extend(confs)
        return runs

    def digest(self) -> bytes:
        """The PDF's sha256 digest, worked out once for all its scanned pages."""
        if self._digest is None:
            self._digest = hashlib.sha256(self.document).digest()
        return self._digest

    def flags(self) -> list[Flag]:
        out = [ocr.confidence_flag(self.confs, self.pages)] if self.pages else []
        if self.missing:
            out.append(Flag(FlagKind.CONVERTER_MISSING, f"{self.reason}: {len(self.missing)} scanned page(s) not read"))
        return out


def _walk_objects(page_handle: _Handle):
    """(text object, matrix to page space) for every text object, forms included."""
    texts: list[tuple[_Handle, tuple]] = []
    images = 0
    stack: list[tuple[_Handle | None, tuple, int]] = [(None, _IDENTITY, 0)]
    matrix = raw.FS_MATRIX()
    matrix_at = ctypes.byref(matrix)
    count = 0
    while stack:
        form, ctm, depth = stack.pop()
        total = _page_count_objects(page_handle) if form is None else _form_count_objects(form)
        for i in range(max(total, 0)):
            obj = _page_get_object(page_handle, i) if form is None else _form_get_object(form, ctypes.c_ulong(i))
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


def _page_box(page: _Handle) -> tuple[float, float, float, float]:
    """The visible page (left, bottom, right, top): its crop box, else its media box, else US Letter
    (as pypdfium2's get_cropbox)."""
    box = (ctypes.c_float * 4)()
    corners = [ctypes.byref(box, 4 * k) for k in range(4)]
    for get_box in (_crop_box, _media_box):
        if get_box(page, *corners):
            return box[0], box[1], box[2], box[3]
    return 0.0, 0.0, 612.0, 792.0


def _page_runs(page: _Handle, fonts: dict, origin: tuple[float, float]) -> tuple[list[Run], int]:
    """Text runs of one page (none drew only spaces) and the number of images.
    Run coordinates are points from `origin`, the top-left corner of the visible page, downwards."""
    textpage = _load_text_page(page)
    if not textpage:
        raise pdfium.PdfiumError("Failed to load text page.")
    try:
        n_chars = _count_chars(textpage)
        texts, images = _walk_objects(page)
        if n_chars <= 0 or not texts:
            return [], images
        return _runs(texts, _texts_per_run(textpage, n_chars), origin, fonts), images
    finally:
        _close_text_page(textpage)


def _texts_per_run(handle: _Handle, n_chars: int) -> dict[int, str]:
    """The text of each object, from the page's text cut where the drawing object changes.

    An object's characters are consecutive in pdfium's page text, so a stretch whose first and last
    characters one object drew is all that object's: pdfium is asked which object drew a character
    only at a line's two ends and, by bisection, where objects meet inside it. Asking per object
    instead (FPDFTextObj_GetText) scans the whole page each time; asking per character costs a call
    per character."""
    text = _page_characters(handle, n_chars)
    drawn = _get_text_object
    parts: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in _LINE.finditer(text):
        start, stop = line.span()
        if start and current is not None:
            current.append(" ")  # pdfium's line end before this line: no object drew it
        obj = drawn(handle, start) or 0
        last = drawn(handle, stop - 1) or 0  # what drew the line's end: asked once for all its stretches
        if obj and obj == last and obj not in parts:  # one object drew the whole line: most lines
            current = parts[obj] = [text[start:stop]]
            continue
        while start < stop:
            if not obj:  # generated by pdfium (seldom more than two in a row): a space ends the object before
                end = start + 1
                while end < stop and not drawn(handle, end):
                    end += 1
                if current is not None and " " in text[start:end]:
                    current.append(" ")
                start = end
                obj = (drawn(handle, start) or 0) if start < stop else 0
                continue
            end = stop
            if last != obj:
                lo, hi = start + 1, stop - 1  # the first character another object drew is in [lo, hi]
                while lo < hi:
                    mid = (lo + hi) // 2
                    if (drawn(handle, mid) or 0) == obj:
                        lo = mid + 1
                    else:
                        hi = mid
                end = lo
            bucket = parts.get(obj)
            if bucket is None:
                bucket = parts[obj] = []
            elif bucket is not current:
                bucket.append(" ")  # the object's characters resume after another object's
            current = bucket
            bucket.append(text[start:end])
            start = end
            obj = (drawn(handle, start) or 0) if start < stop else 0
    texts = {}
    for address, pieces in parts.items():
        joined = "".join(pieces)
        texts[address] = joined if joined.isprintable() else joined.translate(_UNPRINTED)
    return texts


def _page_characters(handle: _Handle, n_chars: int) -> str:
    """The page's text, one character per pdfium character index. pdfium gives each UTF-16 half of
    a character outside the BMP an index of its own: the first holds the character, the second a
    NUL (dropped with the others). A hyphen pdfium took for a word break at a line's end (written
    U+0002 or U+FFFE) is the hyphen that was printed: "2769/UBND-" + "NCKSTTHC"."""
    buffer = (ctypes.c_ushort * (n_chars + 1))()
    if _page_text(handle, 0, n_chars, buffer) - 1 == n_chars:
        text = ctypes.string_at(buffer, 2 * n_chars).decode("utf-16-le", "replace")
        if len(text) == n_chars:
            return text.translate(_WORD_BREAKS) if "\x02" in text or "\ufffe" in text else text
        units = buffer[:n_chars]
    else:
        units = [_get_unicode(handle, i) for i in range(n_chars)]
    chars: list[str] = []
    for i, code in enumerate(units):
        if 0xD800 <= code < 0xDC00 and i + 1 < n_chars and 0xDC00 <= units[i + 1] < 0xE000:
            chars.append(chr(0x10000 + ((code - 0xD800) << 10) + (units[i + 1] - 0xDC00)))
        elif code in (0x02, 0xFFFE):
            chars.append("-")
        elif code == 0 or 0xD800 <= code < 0xE000 or code >= 0x110000:
            chars.append("\x00")  # the second half of a pair the previous index holds, or junk
        else:
            chars.append(chr(code))
    return "".join(chars)


def _runs(texts: list, texts_by_obj: dict[int, str], origin: tuple[float, float],
          fonts: dict) -> list[Run]:
    """Runs of the text objects that drew more than spaces. The out-parameters of the per-object
    calls are one reused float array, passed by reference: bounds (left, bottom, right, top),
    matrix (a-f), font size."""
    out = (ctypes.c_float * 11)()
    at0, at1, at2, at3, at4, at10 = (ctypes.byref(out, 4 * k) for k in (0, 1, 2, 3, 4, 10))
    unpack = _ELEVEN_FLOATS.unpack_from
    left, top = origin
    fill_stroke = raw.FPDF_TEXTRENDERMODE_FILL_STROKE
    runs = []
    for obj, ctm in texts:
        text = texts_by_obj.get(obj.value)
        if not text or text.isspace() or not _object_bounds(obj, at0, at1, at2, at3):
            continue
        _object_matrix(obj, at4)
        _text_font_size(obj, at10)
        x0, y0, x1, y1, a, b, c, d, e, f, size = unpack(out)
        if ctm is not _IDENTITY:
            corners = [_apply(ctm, x, y) for x in (x0, x1) for y in (y0, y1)]
            x0, x1 = min(c[0] for c in corners), max(c[0] for c in corners)
            y0, y1 = min(c[1] for c in corners), max(c[1] for c in corners)
            a, b, c, d, e, f = _multiply((a, b, c, d, e, f), ctm)
        scale = math.sqrt(abs(a * d - b * c)) or 1.0
        font_size = round(size * scale, 1) or 1.0
        if not y0 - 1 <= f <= y1 + 1:  # odd matrices: the baseline is the box's bottom
            f = y0
        font = _text_font(obj) or 0
        info = fonts.get(font)
        if info is None:
            info = fonts[font] = _font_info(font)
        name, bold, italic = info
        if not bold and _text_render_mode(obj) == fill_stroke:
            bold = True  # "fake bold": glyphs filled and stroked
        runs.append(Run(text, x0 - left, x1 - left, top - y1, top - y0, top - f, font_size, name, bold, italic))
    return runs


def _font_info(address: int) -> tuple[str, bool, bool]:
    if not address:
        return "", False, False
    font = ctypes.cast(ctypes.c_void_p(address), raw.FPDF_FONT)
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
