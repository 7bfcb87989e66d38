"""The PDF layout modules compiled to C by mypyc, and the guard that never lets a stale build run.

`scripts/compile.py` builds `pdf_lines` and `pdf_layout` (the line and paragraph work: about 4 of
the 10 ms a round of the `pdf_vs_pdfium` benchmark spends outside pdfium, as Python) into extension
modules beside their sources, which Python then imports instead of the `.py` files, and records
each source's digest in `compiled.json`. A build that does not match the sources (edited or
pulled since) would run yesterday's code: the package then loads the sources themselves and
warns. Without a build everything is plain Python, only slower.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import sys
from pathlib import Path

# in import order: pdf_layout imports pdf_lines, and compiled code must not meet the other's source
MODULES = ("pdf_lines", "pdf_layout")
GROUP = "extractors.layout"  # mypyc's name for the library the modules share: extractors/layout__mypyc.*.so
HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "compiled.json"

log = logging.getLogger(__name__)


def source_digest(name: str) -> str:
    return hashlib.sha256((HERE / f"{name}.py").read_bytes()).hexdigest()


def _build_files() -> list[Path]:
    """The extension modules a build makes, named for this Python (their names carry its version):
    the compiled modules and their shared library."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    return [HERE / f"{name}{suffix}" for name in (*MODULES, GROUP.rsplit(".", 1)[1] + "__mypyc")]


def built() -> list[Path]:
    """The extension modules of a build that are on disk."""
    return [path for path in _build_files() if path.exists()]


def current() -> bool:
    """Is every module built, from the sources as they are now?"""
    return all(path.exists() for path in _build_files()) and not stale()


def stale() -> bool:
    """Is there a build that was not made from the sources as they are now?"""
    if not built():
        return False
    try:
        recorded = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return True
    return not isinstance(recorded, dict) or any(recorded.get(name) != source_digest(name) for name in MODULES)


def load_sources() -> None:
    """Import the modules from their sources, ahead of the extension modules beside them."""
    for name in MODULES:
        qualified = f"{__package__}.{name}"
        spec = importlib.util.spec_from_file_location(qualified, HERE / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)


def guard() -> None:
    """Called once, as the package is imported."""
    if stale():
        log.warning("the compiled PDF layout is older than its source: using the source "
                    "(run scripts/setup again to rebuild it)")
        load_sources()


def in_use() -> bool:
    """Does the PDF layout run compiled?"""
    from . import pdf_layout, pdf_lines

    return all(not str(module.__file__).endswith(".py") for module in (pdf_lines, pdf_layout))
