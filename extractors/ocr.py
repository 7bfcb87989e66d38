"""OCR of scanned pages and attached images with tesseract (language "vie").

The output is PDF text *runs* (positions in points, a font size estimated from the line height),
so scanned pages go through the same line and paragraph layout as text PDFs (`pdf_layout`) and the
outline never knows the difference. tesseract is an optional runtime dependency: without it, or
without its Vietnamese data, pages are flagged with the reason, never dropped, never a crash.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from statistics import median

from lxml import etree

from .config import current, ocr_slot, program
from .limits import safe_limits
from .model import Document, Flag, FlagKind
from .pdf_lines import Run

DEFAULT_DPI = 300
DEFAULT_TIMEOUT = 120.0
OCR_FONT = "OCR"
_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")
_BASELINE = re.compile(r"baseline (-?[\d.]+) (-?[\d.]+)")
_XSIZE = re.compile(r"x_size ([\d.]+)")
_WCONF = re.compile(r"x_wconf (\d+)")


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


_SETTINGS: ContextVar[_Settings] = ContextVar("intake_ocr_settings", default=_Settings())


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
def _languages(binary: str) -> frozenset[str]:
    try:
        out = subprocess.run([binary, "--list-langs"], capture_output=True, timeout=30, text=True)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in (out.stdout + out.stderr).splitlines()[1:] if line.strip())


def unavailable_reason() -> str | None:
    """Why OCR cannot run here, or None when it can."""
    binary = tesseract_path()
    if binary is None:
        return "tesseract is not installed"
    if "vie" not in _languages(binary):
        return "tesseract has no Vietnamese data (tesseract-ocr-vie)"
    return None


def ocr_png(png: bytes, scale: float, timeout: float | None = None) -> tuple[list[Run], list[float]]:
    """OCR one page image (PNG bytes, `scale` pixels per point): its runs and its word confidences."""
    timeout = safe_limits().ocr_timeout if timeout is None else timeout  # INTAKE_OCR_TIMEOUT
    binary = tesseract_path()
    reason = unavailable_reason()
    if binary is None or reason:
        raise OcrUnavailable(reason or "tesseract is not installed")
    settings = _SETTINGS.get()
    # psm 6 by default (one uniform block) keeps a report's lines whole; layout gaps are split below
    cmd = [binary, "-", "-", "-l", "vie", "--psm", settings.psm or current().ocr_psm, "hocr"]
    with ocr_slot():  # at most INTAKE_OCR_JOBS at once, across a worker pool
        # one thread: tesseract's OpenMP threads spin when cores are busy (measured 3 s -> 13 s a page
        # on a loaded 2-core machine); parallelism belongs to the caller
        env = {"OMP_THREAD_LIMIT": "1", **os.environ}
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
        try:
            out, err = proc.communicate(png, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"tesseract timed out after {timeout:g} s") from None
    if proc.returncode != 0:
        raise RuntimeError(f"tesseract exited with {proc.returncode}: {err.decode(errors='replace')[-200:]}")
    return parse_hocr(out, scale, settings.lines)


def parse_hocr(hocr: bytes, scale: float, lines_read: list[OcrLine] | None = None) -> tuple[list[Run], list[float]]:
    """hOCR lines -> runs in points; a line is cut where words are far apart (table columns).
    Each line, with its least sure word's confidence, is appended to `lines_read` when given."""
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
        words, word_confs = [], []
        for w in el.iter():
            if (w.get("class") or "") != "ocrx_word":
                continue
            text = "".join(w.itertext()).strip()
            wbox = _BBOX.search(w.get("title") or "")
            if not text or not wbox:
                continue
            conf = _WCONF.search(w.get("title") or "")
            if conf:
                confs.append(float(conf.group(1)))
            words.append((text, *map(int, wbox.groups())))
            word_confs.append(confs[-1] if conf else 0.0)
        if words:
            lines.append((words, ly0, ly1, baseline, height))
            if lines_read is not None:
                lines_read.append(OcrLine(" ".join(w[0] for w in words), min(word_confs)))
    if not lines:
        return [], confs
    # One report has one or two text sizes; OCR line heights jitter, which would split paragraphs.
    typical = median(h for *_, h in lines)
    runs = []
    for words, top, bottom, baseline, height in lines:
        if abs(height - typical) <= 0.2 * typical:
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


def ocr_pdf_page(page) -> tuple[list[Run], list[float]]:
    """OCR a pypdfium2 page: rendered at INTAKE_OCR_DPI (300) in grey, coordinates in points from its top-left."""
    scale = ((_SETTINGS.get().own_resolution and _image_dpi(page)) or current().ocr_dpi) / 72.0
    image = page.render(scale=scale, grayscale=True).to_pil()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ocr_png(buffer.getvalue(), scale)


def _image_dpi(page) -> float | None:
    """The resolution of the page's largest image (the scan), within 150-600 dpi; None without one."""
    import pypdfium2 as pdfium

    best = None
    for obj in page.get_objects(filter=(pdfium.raw.FPDF_PAGEOBJ_IMAGE,)):
        meta = obj.get_metadata()
        if meta.horizontal_dpi > 0 and (best is None or meta.width * meta.height > best.width * best.height):
            best = meta
    return max(150.0, min(600.0, best.horizontal_dpi)) if best else None


def confidence_flag(confs: list[float], pages: int) -> Flag:
    mean = sum(confs) / len(confs) if confs else 0.0
    return Flag(FlagKind.OCR, f"{pages} page(s) read by OCR, mean word confidence {mean:.0f}%")


def read_image(data: bytes) -> Document:
    """An attached scan (.jpg/.png/.tif, every frame of a multi-page TIFF) read by OCR; format "image"."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    from .pdf_layout import layout_document

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
            buffer = io.BytesIO()
            gray.save(buffer, format="PNG")
            runs, page_confs = ocr_png(buffer.getvalue(), scale)
            pages.append((gray.width / scale, gray.height / scale, runs))
            confs.extend(page_confs)
    return Document("image", blocks=layout_document(pages), flags=[confidence_flag(confs, len(pages)), *flags])


__all__ = ["ocr_png", "ocr_pdf_page", "parse_hocr", "read_image", "unavailable_reason", "tesseract_path",
           "confidence_flag", "letter_ocr", "OcrLine", "OcrUnavailable", "OCR_FONT"]
