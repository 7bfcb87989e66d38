"""OCR of scanned pages and attached images with tesseract (language "vie").

The output is PDF text *runs* (positions in points, a font size estimated from the line height),
so scanned pages go through the same line and paragraph layout as text PDFs (`pdf_layout`) and the
outline never knows the difference. tesseract is an optional runtime dependency: without it, or
without its Vietnamese data, pages are flagged with the reason, never dropped, never a crash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from statistics import median

from lxml import etree

from .config import current, ocr_slot, program, tool_cache
from .limits import safe_limits
from .model import Document, Flag, FlagKind
from .pdf_layout import column_bands, layout_document
from .pdf_lines import Run
from .toolcache import asked_while, files_mark, key, remembered

DEFAULT_DPI = 300
DEFAULT_TIMEOUT = 120.0
OCR_FONT = "OCR"
_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")
_BASELINE = re.compile(r"baseline (-?[\d.]+) (-?[\d.]+)")
_XSIZE = re.compile(r"x_size ([\d.]+)")
_WCONF = re.compile(r"x_wconf (\d+)")
# The Vietnamese model reads Đ as the Icelandic Eth, often beside a Đ of its own ("QĐÐ-SNV"): one letter.
_ETH = re.compile("Đ?Ð+Đ?")


class OcrUnavailable(Exception):
    """tesseract or its Vietnamese language data is missing."""


@dataclass(frozen=True)
class OcrLine:
    """One line as tesseract read it, with the confidence of its least sure word (0-100)."""

    text: str
    confidence: float


@dataclass(frozen=True)
class _Settings:
    own_resolution: bool = False  # a scanned PDF page rendered at its image's resolution, not INTAKE_OCR_DPI
    psm: str | None = None  # page segmentation mode; None: INTAKE_OCR_PSM or 6
    lines: list[OcrLine] | None = None  # where every line read is collected, with its confidence


_SETTINGS: ContextVar[_Settings] = ContextVar("intake_ocr_settings", default=_Settings())  # noqa: B039 - frozen


@contextmanager
def letter_ocr() -> Iterator[list[OcrLine]]:
    """OCR as a call letter needs it, for the readers called inside the block; yields the lines read.

    A scanned page is rendered at its own resolution (not upsampled to INTAKE_OCR_DPI) and read with
    page segmentation 4 (one column of text in several sizes: titles, bold headings, italic notes).
    On the test letters scanned at 150 dpi, the report settings (300 dpi, psm 6) lost or misread most
    bold headings (no outline right of 6); these kept them (5 of 6). Reports are read as before.
    """
    lines: list[OcrLine] = []
    token = _SETTINGS.set(_Settings(own_resolution=True, psm="4", lines=lines))
    try:
        yield lines
    finally:
        _SETTINGS.reset(token)


def tesseract_path() -> str | None:
    """The configured tesseract (INTAKE_TESSERACT; a wrong path means "not installed"), else PATH."""
    return program(current().tesseract, "tesseract")


@lru_cache(maxsize=8)
def _listing(binary: str) -> tuple[frozenset[str], str | None]:
    """The languages tesseract has data for, and the folder of that data (None when unsaid)."""
    try:
        out = subprocess.run([binary, "--list-langs"], capture_output=True, timeout=30, text=True)
    except (OSError, subprocess.SubprocessError):
        return frozenset(), None
    lines = (out.stdout + out.stderr).splitlines()
    folder = _TESSDATA.search(lines[0]) if lines else None
    return frozenset(line.strip() for line in lines[1:] if line.strip()), folder[1] if folder else None


_TESSDATA = re.compile(r'"([^"]+)"')  # List of available languages in "/usr/share/tesseract-ocr/5/tessdata/" (3):


def unavailable_reason() -> str | None:
    """Why OCR cannot run here, or None when it can."""
    binary = tesseract_path()
    if binary is None:
        return "tesseract is not installed"
    if "vie" not in _listing(binary)[0]:
        return "tesseract has no Vietnamese data (tesseract-ocr-vie)"
    return None


def ocr_png(png: bytes, scale: float, timeout: float | None = None,
            typical: float | None = None) -> tuple[list[Run], list[float]]:
    """OCR one page image (PNG or PGM bytes, `scale` pixels per point): its runs and its word
    confidences (`typical`: see `parse_hocr`). tesseract's hOCR of the same image with the same
    program, data and arguments is asked of the caller's cache first."""
    timeout = safe_limits().ocr_timeout if timeout is None else timeout  # INTAKE_OCR_TIMEOUT
    binary = tesseract_path()
    reason = unavailable_reason()
    if binary is None or reason:
        raise OcrUnavailable(reason or "tesseract is not installed")
    settings = _SETTINGS.get()
    # psm 6 by default (one uniform block) keeps a report's lines whole; layout gaps are split below
    arguments = ["-l", "vie", "--psm", settings.psm or current().ocr_psm, "hocr"]
    hocr = remembered(tool_cache(), "tesseract", lambda: _reading_key(binary, arguments, png),
                      lambda: _tesseract([binary, "-", "-", *arguments], png, timeout))
    return parse_hocr(hocr, scale, settings.lines, typical)


def _reading_key(binary: str, arguments: list[str], image: bytes) -> str:
    """What tesseract's hOCR of `image` is kept under: its program and Vietnamese data, the arguments."""
    return key("tesseract", _tesseract_mark(binary), arguments, image)


def _tesseract_mark(binary: str) -> str:
    folder = _listing(binary)[1]
    return files_mark([binary, os.path.join(folder, "vie.traineddata") if folder else None])


def _tesseract(cmd: list[str], image: bytes, timeout: float) -> bytes:
    with ocr_slot():  # at most INTAKE_OCR_JOBS at once, across a worker pool
        # one thread: tesseract's OpenMP threads spin when cores are busy (measured 3 s -> 13 s a page
        # on a loaded 2-core machine); parallelism belongs to the caller
        env = {"OMP_THREAD_LIMIT": "1", **os.environ}
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
        try:
            out, err = proc.communicate(image, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"tesseract timed out after {timeout:g} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"tesseract exited with {proc.returncode}: {err.decode(errors='replace')[-200:]}")
    return out


def parse_hocr(hocr: bytes, scale: float, lines_read: list[OcrLine] | None = None,
               typical: float | None = None) -> tuple[list[Run], list[float]]:
    """hOCR lines -> runs in points; a line is cut where words are far apart (table columns).
    Each line, with its least sure word's confidence, is appended to `lines_read` when given.
    `typical` is the usual line height in pixels (by default the median of these lines)."""
    root = etree.fromstring(hocr, etree.XMLParser(resolve_entities=False, no_network=True, recover=True))
    if root is None:
        return [], []
    lines, confs = [], []
    for el in root.iter():
        cls = el.get("class") or ""
        if cls not in ("ocr_line", "ocr_header", "ocr_caption", "ocr_textfloat"):
            continue
        title = el.get("title") or ""
        box = _BBOX.search(title)
        if not box:
            continue
        lx0, ly0, lx1, ly1 = map(int, box.groups())
        base = _BASELINE.search(title)
        baseline = ly1 + float(base.group(2)) if base else ly1 - 0.2 * (ly1 - ly0)
        xsize = _XSIZE.search(title)
        height = float(xsize.group(1)) if xsize else float(ly1 - ly0)
        words: list[tuple[str, int, int, int, int]] = []  # text, x0, y0, x1, y1
        word_confs: list[float] = []
        for w in el.iter():
            if (w.get("class") or "") != "ocrx_word":
                continue
            text = _ETH.sub("Đ", "".join(w.itertext()).strip()).replace("ð", "đ")
            wbox = _BBOX.search(w.get("title") or "")
            if not text or not wbox:
                continue
            conf = _WCONF.search(w.get("title") or "")
            if conf:
                confs.append(float(conf.group(1)))
            x0, y0, x1, y1 = map(int, wbox.groups())
            words.append((text, x0, y0, x1, y1))
            word_confs.append(confs[-1] if conf else 0.0)
        if words:
            lines.append((words, ly0, ly1, baseline, height))
            if lines_read is not None:
                lines_read.append(OcrLine(" ".join(w[0] for w in words), min(word_confs)))
    if not lines:
        return [], confs
    # One report has one or two text sizes; OCR line heights jitter, which would split paragraphs.
    typical = typical or median(h for *_, h in lines)
    runs = []
    for words, top, bottom, baseline, height in lines:
        if abs(height - typical) <= 0.35 * typical:  # Vietnamese tone marks stretch a line by a third
            height = typical
        size = round(height / scale, 1)
        words.sort(key=lambda w: w[1])
        segment = [words[0]]
        for word in words[1:]:
            if word[1] - segment[-1][3] > 1.5 * height:  # a column gap, not a word space
                runs.append(_run(segment, top, bottom, baseline, size, scale))
                segment = []
            segment.append(word)
        runs.append(_run(segment, top, bottom, baseline, size, scale))
    return runs, confs


def _run(words: list, top: int, bottom: int, baseline: float, size: float, scale: float) -> Run:
    text = " ".join(w[0] for w in words)
    return Run(text, words[0][1] / scale, words[-1][3] / scale, top / scale, bottom / scale, baseline / scale,
               size, OCR_FONT, False, False)


def ocr_pdf_page(page, document: Callable[[], bytes] | None = None, index: int = 0) -> tuple[list[Run], list[float]]:
    """OCR a pypdfium2 page: rendered at INTAKE_OCR_DPI (300) in grey, coordinates in points from its
    top-left (under `letter_ocr`, at the scan's own resolution).

    A scan of lower resolution (150 dpi) enlarged to that turns its dust and grain into specks
    tesseract takes for letters and punctuation, running words together: such a scan is cleaned
    at its own resolution by a 3 x 3 median (strokes and tone marks are wider), then enlarged.

    With `document`, which gives the sha256 digest of the PDF the page is page `index` of (asked
    only when there is a cache), the whole reading is asked of the caller's tool cache first
    (`page_reading_key`): rendering, cleaning and enlarging a page take a second or more even when
    tesseract's own reading is kept."""
    cache = tool_cache()
    if cache is None or document is None:
        return _read_pdf_page(page)
    settings = _SETTINGS.get()
    before = len(settings.lines) if settings.lines is not None else 0

    def read() -> bytes:
        (runs, confs), made_from = asked_while(lambda: _read_pdf_page(page))
        lines = settings.lines[before:] if settings.lines is not None else []
        return json.dumps({"runs": [dataclasses.astuple(r) for r in runs], "confs": confs,
                           "lines": [[line.text, line.confidence] for line in lines], "made_from": made_from},
                          ensure_ascii=False).encode()

    reading = json.loads(remembered(cache, "ocr-page", lambda: page_reading_key(document(), index), read))
    cache.used(reading["made_from"])  # tesseract's readings: kept for when the page must be laid out again
    if settings.lines is not None and len(settings.lines) == before:  # kept: the lines were read before
        settings.lines.extend(OcrLine(text, confidence) for text, confidence in reading["lines"])
    return [Run(*fields) for fields in reading["runs"]], reading["confs"]


def page_reading_key(document: bytes, index: int) -> str:
    """What the reading of page `index` of the PDF whose sha256 digest is `document` is kept under
    (the digest, not the PDF: a scan's pages are many megabytes hashed once): tesseract's program and
    data, the versions of the libraries that render and clean the page and of the code that reads it
    (the source of this module and of the layout it uses), the resolution and segmentation asked."""
    binary = tesseract_path() or ""
    settings = _SETTINGS.get()
    arguments = [str(index), str(current().ocr_dpi), settings.psm or current().ocr_psm, str(settings.own_resolution)]
    return key("ocr-page", f"{_tesseract_mark(binary)}|{_code_mark()}", arguments, document)


@lru_cache(maxsize=1)
def _code_mark() -> str:
    """The versions of what turns a page into runs besides tesseract: an upgrade makes new keys."""
    import PIL
    import pypdfium2

    digest = hashlib.sha256()
    for name in ("ocr.py", "pdf_layout.py", "pdf_lines.py"):  # the sources: the layout may run compiled
        digest.update(Path(__file__).with_name(name).read_bytes())
    return f"{digest.hexdigest()}:{PIL.__version__}:{pypdfium2.PYPDFIUM_INFO}:{pypdfium2.PDFIUM_INFO}"


def _read_pdf_page(page) -> tuple[list[Run], list[float]]:
    from PIL import Image, ImageFilter  # local: PIL is only needed for scans

    scan_dpi = _scan_dpi(page)
    dpi: float = current().ocr_dpi
    if _SETTINGS.get().own_resolution and scan_dpi is not None:
        dpi = max(150.0, min(600.0, scan_dpi))
    if scan_dpi is None or scan_dpi >= 0.75 * dpi:
        return ocr_image(page.render(scale=dpi / 72.0, grayscale=True).to_pil(), dpi / 72.0)
    image = page.render(scale=scan_dpi / 72.0, grayscale=True).to_pil().filter(ImageFilter.MedianFilter(3))
    width, height = page.get_size()
    return ocr_image(image.resize((round(width * dpi / 72), round(height * dpi / 72)), Image.Resampling.BICUBIC),
                     dpi / 72.0)


def _scan_dpi(page) -> float | None:
    """Resolution of the largest image on the page (the scan), as placed; None when there is none."""
    import pypdfium2.raw as raw

    best: tuple[int, float | None] = (0, None)
    for obj in page.get_objects(filter=(raw.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        meta = obj.get_metadata()
        if meta.width * meta.height > best[0] and meta.horizontal_dpi > 0:
            best = (meta.width * meta.height, min(meta.horizontal_dpi, meta.vertical_dpi or meta.horizontal_dpi))
    return best[1]


def ocr_image(image, scale: float) -> tuple[list[Run], list[float]]:
    """OCR one page image (PIL, `scale` pixels per point), its columns read apart.

    tesseract reads a page as one block of lines: beside a column whose lines fall between this
    one's (a letterhead's two cells, a signature beside "Nơi nhận"), it merges a line of each and
    garbles both. So the column regions the first reading shows are read again, each column alone."""
    runs, confs = ocr_png(_encoded(image), scale)
    bands = _bands(runs, image.width / scale)
    if bands:
        boxes = [(x0, top, x1, bottom) for top, bottom, cuts in bands
                 for x0, x1 in zip([0.0, *cuts], [*cuts, image.width / scale], strict=True)]
        again, more = _read_apart(image, boxes, scale, typical=median(r.size for r in runs) * scale)
        runs = [r for r in runs if not any(top <= (r.top + r.bottom) / 2 <= bottom for top, bottom, _ in bands)]
        runs, confs = runs + again, confs + more
    runs = _tidied(runs)
    _mark_bold(runs, image, scale)
    return runs, confs


def _tidied(runs: list[Run]) -> list[Run]:
    """What OCR makes of specks and of tone marks read apart from their letter ("„TINH ˆ"), dropped;
    misread Roman numbers of headings put back."""
    out = []
    for run in runs:
        text = " ".join(w for w in (w.strip(_STRAY_MARKS) for w in run.text.split()) if w)
        text = _ROMAN_MISREAD.sub(lambda m: _ROMAN[m[1]] + ".", text)
        if text and (len(text) > 2 or any(c.isalpha() for c in text) or _LABEL.match(text)):
            run.text = text
            out.append(run)
    return out


_STRAY_MARKS = "„‚ˆ˜`´¨¸'\"|~^°•·"
_LABEL = re.compile(r"^(?:\d{1,2}|[a-zđ])[.)]$")


# Roman numbers of headings as the Vietnamese model misreads them in serif faces ("II." -> "H."),
# put back where one begins a line before a title in capitals (or alone: the title is a column away).
_ROMAN = {"H": "II", "HI": "III", "IH": "III", "Hl": "III", "lH": "III", "Il": "II", "lI": "II", "ll": "II"}
_ROMAN_MISREAD = re.compile(rf"^({'|'.join(sorted(_ROMAN, key=len, reverse=True))})\.(?=\s+[^\W\d_a-zđ]|$)")


def _mark_bold(runs: list[Run], image, scale: float) -> None:
    """tesseract says nothing of weight; a run is bold when its strokes are much thicker than the
    page's usual ones (stroke width: twice the ink's area over its outline), as headings are."""
    from PIL import ImageFilter  # local: PIL is only needed for scans

    widths = []
    for run in runs:
        crop = image.crop((int(run.x0 * scale), int(run.top * scale), int(run.x1 * scale) + 1,
                           int(run.bottom * scale) + 1))
        darkest, lightest = crop.getextrema()
        threshold = (darkest + lightest) // 2  # the run's own: a heading may be printed in colour
        inked = crop.point(lambda v, threshold=threshold: 255 if v < threshold else 0)
        outline = sum(inked.filter(ImageFilter.FIND_EDGES).histogram()[128:])
        widths.append(2 * inked.histogram()[255] / outline if outline else 0.0)
    usual = median([w for w, r in zip(widths, runs, strict=True) if len(r.text) >= 4] or [0.0])
    judged = [r for r in runs if len(r.text) >= 3]
    for run, width in zip(runs, widths, strict=True):
        run.bold = usual > 0 and width > _BOLD_STROKE * usual
    for run in runs:  # a word of two letters has too little ink to tell: it is as the line above it
        if len(run.text) < 3:
            above = [r for r in judged if 0 < run.base - r.base < 2 * run.size and r.x0 < run.x1 and run.x0 < r.x1]
            run.bold = max(above, key=lambda r: r.base).bold if above else False


_BOLD_STROKE = 1.3  # bold strokes of a serif or sans face are 1.5 to 1.7 times the regular ones


_BAND_PAD = 4.0  # points kept above and below a column band, so no glyph is cut


def _bands(runs: list[Run], width: float) -> list[tuple[float, float, list[float]]]:
    """The column regions of the first reading (top, bottom, cuts in points), padded, merged where
    they meet and widened to the whole of any line their edges cross."""
    bands: list[list] = []
    for top, bottom, cuts in column_bands(runs, width):
        top, bottom = top - _BAND_PAD, bottom + _BAND_PAD
        for r in runs:
            if r.top < top < r.bottom:
                top = r.top - _BAND_PAD
            if r.top < bottom < r.bottom:
                bottom = r.bottom + _BAND_PAD
        if bands and top <= bands[-1][1]:
            bands[-1][1] = max(bands[-1][1], bottom)
        else:
            bands.append([max(0.0, top), bottom, cuts])
    return [(top, bottom, [_free_x(runs, top, bottom, x) for x in cuts]) for top, bottom, cuts in bands]


def _free_x(runs: list[Run], top: float, bottom: float, x: float) -> float:
    """The middle of the strip free of text, in the band, nearest to `x`: a cut through no word."""
    spans = sorted((r.x0, r.x1) for r in runs if r.bottom > top and r.top < bottom)
    free, right = [], float("-inf")
    for x0, x1 in spans:
        if x0 > right:
            free.append((right, x0))
        right = max(right, x1)
    inner = [(a, b) for a, b in free if a > float("-inf")]
    if not inner:
        return x
    a, b = min(inner, key=lambda ab: 0 if ab[0] <= x <= ab[1] else min(abs(x - ab[0]), abs(x - ab[1])))
    return (a + b) / 2


def _read_apart(image, boxes: list[tuple[float, float, float, float]], scale: float,
                typical: float) -> tuple[list[Run], list[float]]:
    """OCR each box (points) of the page image on its own: the crops stacked one above the other,
    white between them, in a single tesseract run; runs come back in page coordinates."""
    from PIL import Image  # local: PIL is only needed for scans

    pixels = [tuple(int(v * scale) for v in box) for box in boxes]
    gap = int(2 * _BAND_PAD * scale)
    stack = Image.new("L", (max(x1 - x0 for x0, _, x1, _ in pixels), sum(y1 - y0 + gap for _, y0, _, y1 in pixels)),
                      255)
    slots, at = [], 0
    for box in pixels:
        stack.paste(image.crop(box), (0, at))
        slots.append((at, box))
        at += box[3] - box[1] + gap
    runs, confs = ocr_png(_encoded(stack), scale, typical=typical)
    placed = []
    for run in runs:
        middle = (run.top + run.bottom) / 2 * scale
        at, (x0, y0, _, _) = max((slot for slot in slots if slot[0] <= middle), default=slots[0])
        placed.append(_moved(run, x0 / scale, (y0 - at) / scale))
    return placed, confs


def _moved(run: Run, dx: float, dy: float) -> Run:
    return Run(run.text, run.x0 + dx, run.x1 + dx, run.top + dy, run.bottom + dy, run.base + dy, run.size,
               run.font, run.bold, run.italic)


def _encoded(image) -> bytes:
    """The image as tesseract reads it from stdin: PGM, nothing to compress (PNG costs 0.3 s a page)."""
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="PPM")
    return buffer.getvalue()



def confidence_flag(confs: list[float], pages: int) -> Flag:
    mean = sum(confs) / len(confs) if confs else 0.0
    return Flag(FlagKind.OCR, f"{pages} page(s) read by OCR, mean word confidence {mean:.0f}%")


def read_image(data: bytes) -> Document:
    """An attached scan (.jpg/.png/.tif, every frame of a multi-page TIFF) read by OCR; format "image"."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    reason = unavailable_reason()
    if reason:
        return Document("image", error=f"{reason}: image not read",
                        flags=[Flag(FlagKind.CONVERTER_MISSING, f"{reason}: image not read")])
    pages, confs, flags = [], [], []
    max_pages = safe_limits().max_pdf_pages  # a multi-page TIFF is a scanned PDF by another name
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:  # its message names a memory address: a fixed text instead
        detail = "damaged image: its JPEG, PNG or TIFF data cannot be decoded"
        return Document("image", error=detail, flags=[Flag(FlagKind.UNREADABLE, detail)])
    with img:
        for n, frame in enumerate(ImageSequence.Iterator(img)):
            if n == max_pages:
                flags.append(Flag(FlagKind.TRUNCATED, f"more than {max_pages} pages: only the first {max_pages} read "
                                               "(INTAKE_MAX_PDF_PAGES)"))
                break
            dpi = frame.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI))[0] or DEFAULT_DPI
            scale = (float(dpi) if float(dpi) >= 72 else DEFAULT_DPI) / 72.0
            gray = frame.convert("L")
            runs, page_confs = ocr_image(gray, scale)
            pages.append((gray.width / scale, gray.height / scale, runs))
            confs.extend(page_confs)
    return Document("image", blocks=layout_document(pages), flags=[confidence_flag(confs, len(pages)), *flags])


__all__ = ["ocr_png", "ocr_pdf_page", "ocr_image", "parse_hocr", "read_image", "unavailable_reason", "tesseract_path",
           "confidence_flag", "letter_ocr", "OcrLine", "OcrUnavailable", "OCR_FONT"]
