""".doc/.rtf through real LibreOffice, scans through real tesseract, and what happens without them."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from extractors.analyze import extract
from extractors.readers import read_document
from rules.campaign import load_campaign
from tests.conftest import CAMPAIGN_FILE, SHARED
from tests.fixtures.documents import Report

needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice not installed")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
REPORT = Report("Đảng ủy Sở Nội vụ", issuer="ĐẢNG ỦY SỞ NỘI VỤ", number="60-BC/ĐU", date=(2022, 6, 10),
                signer="Nguyễn Thị Mai")


def token_f1(pred: str, gold: str) -> float:
    """Token F1 as the contract checker counts it (case and punctuation ignored)."""
    p, g = (re.findall(r"\w+", unicodedata.normalize("NFC", s or "").casefold()) for s in (pred, gold))
    if not p and not g:
        return 1.0
    common = sum((Counter(p) & Counter(g)).values())
    return 0.0 if not common else 2 * common / (len(p) + len(g))


def assert_sections(ext, report: Report) -> dict[str, float]:
    got = {s.key: s.text for s in ext.sections}
    scores = {key: token_f1(got.get(key, ""), text) for key, text in report.expected_sections().items()}
    assert ext.kind == "report" and not ext.missing_sections
    assert min(scores.values()) >= 0.9, scores
    return scores


@pytest.fixture(scope="module")
def profile():
    return load_campaign(CAMPAIGN_FILE).profile()


@pytest.fixture(scope="module")
def report_doc(tmp_path_factory) -> bytes:
    """The fixture report saved as Word 97-2003 by LibreOffice itself."""
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice not installed")
    work = tmp_path_factory.mktemp("doc")
    (work / "bao-cao.docx").write_bytes(REPORT.docx())
    subprocess.run(["soffice", f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
                    "--convert-to", "doc", "--outdir", str(work), str(work / "bao-cao.docx")],
                   check=True, capture_output=True, timeout=120)
    return (work / "bao-cao.doc").read_bytes()


@pytest.fixture(scope="module")
def scanned_pdf() -> bytes:
    """The fixture report's PDF rendered to 200 dpi images and wrapped into an image-only PDF."""
    pdf = pdfium.PdfDocument(REPORT.pdf())
    images = [pdf[i].render(scale=200 / 72, grayscale=True).to_pil() for i in range(len(pdf))]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=200)
    return buffer.getvalue()


@needs_soffice
def test_doc_made_by_libreoffice_reads_like_the_docx(report_doc, profile):
    ext = extract(report_doc, "bao-cao.doc", profile)
    assert ext.format == "doc" and not ext.error
    assert_sections(ext, REPORT)
    assert ext.metadata.number == REPORT.number


@needs_soffice
def test_rtf_is_converted():
    doc = read_document(b"{\\rtf1\\ansi\\ansicpg1252 Xin ch\\u224?o}", "phieu-trinh.doc")
    assert doc.format == "rtf" and [b.text for b in doc.blocks] == ["Xin chào"] and not doc.flags


@needs_soffice
def test_libreoffice_timeout_kills_it_and_flags_the_file(settings_env, report_doc):
    settings_env(INTAKE_SOFFICE_TIMEOUT="0.3")
    started = time.monotonic()
    doc = read_document(report_doc, "bao-cao.doc")
    assert time.monotonic() - started < 10
    assert doc.error and doc.flags[0].kind == "unreadable" and "timed out" in doc.flags[0].detail


@needs_tesseract
def test_scanned_pdf_is_read_by_ocr(scanned_pdf, profile):
    ext = extract(scanned_pdf, "bao-cao-scan.pdf", profile)
    assert ext.format == "pdf" and not ext.error
    assert assert_sections(ext, REPORT)
    headings = {s.key: s.heading for s in ext.sections}
    label = re.compile(r"^\s*[IVXLC\d]+\s*[.)]\s*")  # OCR reads "III." as "II." at times; the words count
    for key, heading in REPORT.expected_headings().items():
        assert token_f1(label.sub("", headings[key]), label.sub("", heading)) >= 0.9, (key, headings[key])
    ocr = [f for f in ext.flags if f.kind == "ocr"]
    assert ocr and "mean word confidence" in ocr[0].detail


@needs_tesseract
def test_attached_image_is_read_by_ocr(scanned_pdf):
    page = pdfium.PdfDocument(scanned_pdf)[0].render(scale=200 / 72, grayscale=True).to_pil()
    buffer = io.BytesIO()
    page.save(buffer, format="PNG", dpi=(200, 200))
    doc = read_document(buffer.getvalue(), "scan.png")
    assert doc.format == "image" and not doc.error
    texts = [b.text for b in doc.blocks]
    assert "BÁO CÁO" in texts and any(t.startswith("I. ") for t in texts)


def test_missing_converters_are_flagged_not_fatal(settings_env, scanned_pdf):
    settings_env(INTAKE_SOFFICE="/nonexistent/soffice")
    settings_env(INTAKE_TESSERACT="/nonexistent/tesseract")
    doc = read_document(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "bao-cao.doc")
    assert doc.format == "doc" and [(f.kind, f.detail) for f in doc.flags] == [
        ("converter_missing", "LibreOffice is not installed: Word 97-2003 .doc not read")]
    scan = read_document(scanned_pdf, "scan.pdf")
    kinds = [f.kind for f in scan.flags]
    assert not scan.blocks and kinds.count("needs_ocr") == 3 and "converter_missing" in kinds
    assert "tesseract is not installed" in scan.flags[-1].detail
    image = read_document(b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "scan.png")
    assert image.format == "image" and image.flags[0].kind == "converter_missing"


# ---- the shared corpus: every legacy file is read or flagged with a reason ------------------------
CORPUS = SHARED / "corpus"


def _legacy_files() -> list[Path]:
    files = sorted((CORPUS / "doc").glob("*.doc")) + sorted((CORPUS / "doc").glob("*.DOC"))
    files += sorted(p for p in (CORPUS / "vi").glob("*") if p.suffix.lower() in (".doc", ".rtf"))
    return files


@pytest.mark.slow
@needs_soffice
@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_doc_and_rtf_sweep():
    files = _legacy_files()
    counts = Counter()
    for path in files:
        doc = read_document(path.read_bytes(), path.name)
        if doc.error:
            assert doc.flags and all(f.detail for f in doc.flags), path.name
            counts[f"flagged:{doc.flags[0].kind}"] += 1
        else:
            counts["read"] += 1
    print(f"\n{len(files)} legacy files: {dict(counts)}")
    assert counts["read"] >= len(files) // 2
