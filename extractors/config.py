"""What the caller configures for the extractors: the limits on hostile input, the converters and
the CAs whose digital signatures are trusted.

Extractors never read the environment. The caller builds one ExtractorConfig (the CLI from its
settings, pipeline/settings.py) and installs it with `configure()`; worker processes are handed
their parent's, with semaphores shared by the whole pool. Without `configure()` (library use) the
defaults hold.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from .certificates import TrustRoots
from .limits import Limits
from .toolcache import ToolCache


@dataclass(frozen=True)
class ExtractorConfig:
    limits: Limits = field(default_factory=Limits)
    soffice: str | None = None  # LibreOffice's soffice; None: soffice or libreoffice on PATH
    tesseract: str | None = None  # None: tesseract on PATH
    ocr_dpi: int = 300  # scanned pages are rendered at this resolution for OCR
    ocr_psm: str = "6"  # tesseract's page segmentation mode: one uniform block keeps a report's lines whole
    soffice_jobs: int = 2  # LibreOffice is memory hungry and slow to start: this many at once
    ocr_jobs: int = 1  # tesseract already uses threads
    trust_roots: TrustRoots | None = None  # the office's accepted CAs; None: signature chains not judged


Slot = AbstractContextManager  # a semaphore: held while one conversion or OCR run goes on


@dataclass
class _State:
    config: ExtractorConfig
    soffice_slots: Slot
    ocr_slots: Slot
    tool_cache: ToolCache | None = None


def _fresh(config: ExtractorConfig) -> _State:
    return _State(config, threading.BoundedSemaphore(config.soffice_jobs), threading.BoundedSemaphore(config.ocr_jobs))


_state = _fresh(ExtractorConfig())


def configure(config: ExtractorConfig, shared_slots: tuple[Slot, Slot] | None = None) -> None:
    """Install `config` for this process. `shared_slots` (soffice, OCR): semaphores shared across
    processes, so that the jobs limits hold for a whole worker pool, not per worker."""
    global _state
    _state = _fresh(config) if shared_slots is None else _State(config, *shared_slots)


def current() -> ExtractorConfig:
    return _state.config


def soffice_slot() -> Slot:
    """Held while one LibreOffice conversion runs."""
    return _state.soffice_slots


def ocr_slot() -> Slot:
    """Held while one tesseract run runs."""
    return _state.ocr_slots


@contextmanager
def use_tool_cache(cache: ToolCache | None) -> Iterator[None]:
    """LibreOffice's and tesseract's outputs asked of and told to `cache` inside the block."""
    before, _state.tool_cache = _state.tool_cache, cache
    try:
        yield
    finally:
        _state.tool_cache = before


def tool_cache() -> ToolCache | None:
    return _state.tool_cache


def program(configured: str | None, *names: str) -> str | None:
    """The configured program when it is an executable file (a wrong path means "not installed"),
    else the first of `names` on PATH."""
    if configured:
        return configured if os.path.isfile(configured) and os.access(configured, os.X_OK) else None
    return next((found for found in map(shutil.which, names) if found), None)
