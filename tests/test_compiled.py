"""The PDF layout compiled by mypyc (scripts/compile.py) reads as its source does, and a build that
no longer matches its source is never run."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import pypdfium2 as pdfium
import pytest

from benchmarks.measure import benchmark_pdfs
from extractors import compiled
from extractors.pdf_reader import read_pdf
from tests.conftest import ROOT, SHARED

needs_build = pytest.mark.skipif(not compiled.in_use(), reason="the PDF layout is not compiled here")

# Reads the PDFs named on stdin with the layout's sources, and prints their blocks.
_READ_WITH_SOURCES = """
import dataclasses, json, sys
from extractors import compiled
compiled.load_sources()
from extractors.pdf_reader import read_pdf
assert not compiled.in_use()
for path in sys.stdin.read().splitlines():
    with open(path, "rb") as f:
        print(json.dumps([dataclasses.astuple(b) for b in read_pdf(f.read()).blocks], ensure_ascii=False))
"""


def _text_pdfs(tmp_path) -> list[str]:
    """The benchmark's PDFs and the shared corpus's PDFs with text on every page (scans would
    compare tesseract, not the layout, and take minutes)."""
    paths = []
    for k, data in enumerate(benchmark_pdfs()):
        path = tmp_path / f"bench-{k}.pdf"
        path.write_bytes(data)
        paths.append(str(path))
    for path in sorted((SHARED / "corpus").rglob("*")):
        if path.suffix.lower() != ".pdf":
            continue
        try:
            doc = pdfium.PdfDocument(str(path))
            if len(doc) and all(page.get_textpage().count_chars() > 0 for page in doc):
                paths.append(str(path))
            doc.close()
        except pdfium.PdfiumError:
            continue  # damaged: the reader's flag, the same either way
    return paths


@needs_build
def test_compiled_layout_reads_every_pdf_as_its_source(tmp_path):
    paths = _text_pdfs(tmp_path)
    result = subprocess.run([sys.executable, "-c", _READ_WITH_SOURCES], input="\n".join(paths), cwd=ROOT,
                            capture_output=True, text=True, check=True, timeout=600)
    from_sources = result.stdout.splitlines()
    assert len(from_sources) == len(paths)
    for path, expected in zip(paths, from_sources, strict=True):
        with open(path, "rb") as f:
            blocks = [list(dataclasses.astuple(b)) for b in read_pdf(f.read()).blocks]
        assert json.loads(json.dumps(blocks, ensure_ascii=False)) == json.loads(expected), path


def _copy_package(tmp_path):
    shutil.copytree(ROOT / "extractors", tmp_path / "extractors", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "extractors"


_IN_USE = "from extractors import compiled, pdf_layout; print(compiled.in_use(), pdf_layout.__file__)"


@needs_build
def test_a_build_older_than_its_source_is_set_aside_with_a_warning(tmp_path):
    package = _copy_package(tmp_path)
    run = subprocess.run([sys.executable, "-c", _IN_USE], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert run.stdout.startswith("True "), "an unchanged copy of the build runs compiled"
    with open(package / "pdf_lines.py", "a") as source:
        source.write("\n# edited after the build\n")
    run = subprocess.run([sys.executable, "-c", _IN_USE], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False", str(package / "pdf_layout.py")]
    assert "older than its source" in run.stderr


@needs_build
def test_a_build_without_its_record_is_not_trusted(tmp_path):
    package = _copy_package(tmp_path)
    (package / "compiled.json").unlink()
    run = subprocess.run([sys.executable, "-c", _IN_USE], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert run.stdout.startswith("False ")


@pytest.mark.skipif(not os.environ.get("CI"), reason="CI's machine has the compiler scripts/setup needs")
def test_setup_compiled_the_layout():
    assert compiled.current() and compiled.in_use()
