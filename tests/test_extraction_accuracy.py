"""Scores the extractors on the labelled corpus (tests/fixtures/corpus.py), as issue 3 measures them:
a section is right when its text matches the labelled text with token F1 >= 0.9. The same corpus is
scored as units make their files (tests/fixtures/saved_corpus.py): every document saved as PDF by
LibreOffice, and a scan of each report style and attachment kind, read by OCR."""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest

from extractors import ocr
from extractors.analyze import extract
from extractors.text import normalize_tones
from tests.fixtures.corpus import Item, converted_corpus, corpus, docx_corpus
from tests.fixtures.quirks import libreoffice_quirk_items, quirk_items
from tests.fixtures.saved_corpus import libreoffice_pdfs, scan_subset, scanned

SECTION_BAR, KIND_BAR, METADATA_BAR = 0.98, 1.0, 0.95
QUIRK_SECTION_BAR = 0.99
SAVED_SECTION_BAR = 0.99  # the PDFs LibreOffice saves and their scans
# What a letterhead, a type line and a signature give, for reports and attachments alike.
METADATA_FIELDS = ("issuer", "number", "date", "place", "doc_type", "summary", "signer")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", normalize_tones(unicodedata.normalize("NFC", text or "")).casefold())


def token_f1(got: str, want: str) -> float:
    g, w = _words(got), _words(want)
    if not g and not w:
        return 1.0
    common = sum((Counter(g) & Counter(w)).values())
    if not common:
        return 0.0
    precision, recall = common / len(g), common / len(w)
    return 2 * precision * recall / (precision + recall)


def score(items: list, profile, jobs: int = 1) -> dict:
    """Section, kind and metadata accuracy of `intake extract` on labelled items, each for its own
    campaign's profile when it has one, else for `profile` (`jobs` processes at once, as the worker
    pool runs them: pdfium is not thread-safe)."""
    sections_ok = sections_n = kinds_ok = meta_ok = meta_n = 0
    wrong: list[str] = []
    profiles = [item.profile or profile for item in items]
    if jobs > 1:
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(extract, [i.data for i in items], [i.name for i in items], profiles))
    else:
        results = [extract(item.data, item.name, p) for item, p in zip(items, profiles, strict=True)]
    for item, result in zip(items, results, strict=True):
        if result.kind == item.kind:
            kinds_ok += 1
        else:
            wrong.append(f"{item.name}: kind {result.kind}, want {item.kind}")
        meta = result.metadata.as_json()
        for field in METADATA_FIELDS:
            meta_n += 1
            if _words(str(meta.get(field) or "")) == _words(item.metadata[field] or ""):
                meta_ok += 1
            else:
                wrong.append(f"{item.name}: {field} {meta.get(field)!r}, want {item.metadata[field]!r}")
        if item.sections is None:
            continue
        got = {s.key: s.text for s in result.sections}
        extras_got = [s.text for s in result.sections if s.extra]
        for key, want in item.sections.items():
            sections_n += 1
            text = got.get(key, "") if not key.startswith("+") else (extras_got[int(key[1:]) - 1]
                                                                       if len(extras_got) >= int(key[1:]) else "")
            if token_f1(text, want) >= 0.9:
                sections_ok += 1
            else:
                wrong.append(f"{item.name}: section {key} f1={token_f1(text, want):.2f}")
        for key in item.missing:
            sections_n += 1
            if key in result.missing_sections:
                sections_ok += 1
            else:
                wrong.append(f"{item.name}: section {key} should be missing")
    return {"sections": sections_ok / sections_n, "kinds": kinds_ok / len(items), "metadata": meta_ok / meta_n,
            "n_files": len(items), "n_sections": sections_n, "wrong": wrong}


def test_ocr_surnames_are_put_back():
    from extractors.metadata import _fix_ocr_surname

    assert _fix_ocr_surname("Nguyên Thị Mai") == "Nguyễn Thị Mai"
    assert _fix_ocr_surname("Tran Van Long") == "Trần Van Long"
    assert _fix_ocr_surname("Kiều Văn An") == "Kiều Văn An"


@pytest.fixture(scope="module")
def scores(campaign):
    return score(corpus(), campaign.profile())


def test_corpus_is_large_and_varied_enough(scores):
    assert scores["n_files"] >= 40 and scores["n_sections"] >= 250


def test_section_accuracy(scores):
    assert scores["sections"] >= SECTION_BAR, "\n".join(scores["wrong"][:30])


def test_kind_accuracy(scores):
    assert scores["kinds"] >= KIND_BAR, "\n".join(w for w in scores["wrong"] if "kind" in w)


def test_metadata_accuracy(scores):
    assert scores["metadata"] >= METADATA_BAR, "\n".join(scores["wrong"][:30])


@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("tesseract") is None,
                    reason="LibreOffice and tesseract are needed for .doc and scans")
def test_doc_and_scanned_reports(campaign, tmp_path):
    """One report per style as .doc, three as scans: the same bars as the .docx/PDF corpus."""
    result = score(converted_corpus(tmp_path), campaign.profile())
    assert result["n_files"] >= 10
    assert result["kinds"] >= KIND_BAR, "\n".join(result["wrong"])
    assert result["sections"] >= SECTION_BAR, "\n".join(result["wrong"])
    assert result["metadata"] >= METADATA_BAR, "\n".join(result["wrong"])


def test_real_reports_quirks(campaign):
    """Footnotes, deeper numbering, abbreviations, headings unlike their siblings, inline headings over
    two PDF lines, closings by their form (tests.fixtures.quirks), as .docx and reportlab PDF."""
    result = score([Item(*fields) for fields in quirk_items()], campaign.profile())
    assert result["kinds"] == KIND_BAR, "\n".join(result["wrong"])
    assert result["sections"] >= QUIRK_SECTION_BAR, "\n".join(result["wrong"])


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is needed to save the .docx as PDF")
def test_real_reports_quirks_saved_as_pdf_by_libreoffice(campaign, tmp_path):
    """The same quirk reports as LibreOffice prints them: real footnote areas and superscript marks."""
    result = score([Item(*fields) for fields in libreoffice_quirk_items(tmp_path)], campaign.profile())
    assert result["kinds"] == KIND_BAR, "\n".join(result["wrong"])
    assert result["sections"] >= QUIRK_SECTION_BAR, "\n".join(result["wrong"])


def _assert_bars(result: dict, sections: float) -> None:
    assert result["kinds"] >= KIND_BAR, "\n".join(w for w in result["wrong"] if "kind" in w)
    assert result["sections"] >= sections, "\n".join(result["wrong"][:30])
    assert result["metadata"] >= METADATA_BAR, "\n".join(result["wrong"][:30])


@pytest.fixture(scope="module")
def libreoffice_items(saved_corpus_dir):
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is needed to save the corpus as PDF")
    return libreoffice_pdfs(docx_corpus(), saved_corpus_dir)


def test_pdfs_saved_by_libreoffice(libreoffice_items, campaign):
    """Every document of the corpus as "Save as PDF" gives it: letterhead cells wrapped over lines,
    columns whose lines do not line up."""
    result = score(libreoffice_items, campaign.profile())
    assert result["n_files"] == len(docx_corpus())
    _assert_bars(result, SAVED_SECTION_BAR)


def test_scans_of_pdfs_saved_by_libreoffice(libreoffice_items, saved_corpus_dir, campaign):
    """A scan of every report style and attachment kind, skewed and noisy, read by tesseract: two
    files at once, as the worker pool reads them on two cores."""
    if ocr.unavailable_reason():
        pytest.skip(f"scans are read by OCR: {ocr.unavailable_reason()}")
    scans = scanned(scan_subset(libreoffice_items), saved_corpus_dir, jobs=2)
    result = score(scans, campaign.profile(), jobs=2)
    assert result["n_files"] >= 16
    _assert_bars(result, SAVED_SECTION_BAR)
