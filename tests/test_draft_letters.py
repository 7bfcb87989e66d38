"""`intake campaign draft` on call letters of every class (tests/fixtures/letters.py), as .docx, as PDF
saved by LibreOffice and as a scan read by tesseract, scored the way issue 20 measures drafts: the
outline's keys exactly right per letter, titles right, attachments invented or missed, deadline right."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from extractors.text import fold
from pipeline.cli import cli
from tests.fixtures.letters import LETTERS, MINISTRY_SEPARATE_OUTLINE, outline_pairs, scan
from tests.fixtures.mail import build_mail

SOFFICE = shutil.which("soffice")
TESSERACT = shutil.which("tesseract")


def _draft(letter: Path, outline: Path | None = None) -> tuple[dict, str, str]:
    """`intake campaign draft LETTER [OUTLINE]`: the campaign as YAML data, the YAML, and stderr
    (without the developer's INTAKE_* settings: the session's drafts are made before any test runs)."""
    args = ["campaign", "draft", str(letter), *([str(outline)] if outline else [])]
    unset = {key: None for key in os.environ if key.startswith("INTAKE_")}
    result = CliRunner().invoke(cli, args, env=unset, catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return yaml.safe_load(result.stdout), result.stdout, result.stderr


def _draft_process(letter: Path, outline: Path | None = None) -> tuple[dict, str, str]:
    """The same as a process of its own, so that two scans are read by OCR at once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    done = subprocess.run([sys.executable, "-m", "pipeline", "campaign", "draft", str(letter),
                           *([str(outline)] if outline else [])], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout), done.stdout, done.stderr


def score(drafts: dict[str, tuple[dict, str, str]]) -> dict:
    """Figures over the letters: keys exactly right, titles right (and right but for OCR's diacritics,
    and wrong but marked "# kiểm tra:"), attachments invented and missed, deadlines right."""
    figures = {"letters": 0, "keys": 0, "titles": 0, "n_titles": 0, "titles_folded": 0, "wrong_titles_checked": 0,
               "invented": 0, "missed": 0, "deadlines": 0}
    wrong = []
    for letter in LETTERS:
        data, text, _ = drafts[letter.name]
        checked = set(re.findall(r"- key: (\S+)\s+# kiểm tra:", text))
        figures["letters"] += 1
        got = dict(outline_pairs(data["outline"]))
        if list(got) == [key for key, _ in letter.outline]:
            figures["keys"] += 1
        else:
            wrong.append(f"{letter.name}: keys {list(got)}")
        for key, title in letter.outline:
            figures["n_titles"] += 1
            if got.get(key) == title:
                figures["titles"] += 1
            else:
                wrong.append(f"{letter.name}: {key} {got.get(key)!r}, want {title!r}")
                figures["wrong_titles_checked"] += key in checked
            figures["titles_folded"] += fold(got.get(key) or "") == fold(title)
        titles = [fold(a["title"]) for a in data.get("attachments") or []]
        invented = [t for t in titles if not any(want in t for want in letter.attachments)]
        missed = [want for want in letter.attachments if not any(want in t for t in titles)]
        figures["invented"] += len(invented)
        figures["missed"] += len(missed)
        wrong += [f"{letter.name}: attachment invented {t!r}" for t in invented]
        wrong += [f"{letter.name}: attachment missed {t!r}" for t in missed]
        if data["deadline"] == datetime.fromisoformat(letter.deadline):
            figures["deadlines"] += 1
        else:
            wrong.append(f"{letter.name}: deadline {data['deadline']}, want {letter.deadline}")
    figures["wrong"] = wrong
    return figures


@pytest.fixture(scope="session")
def letter_files(tmp_path_factory) -> dict[str, dict[str, tuple[Path, Path | None]]]:
    """{format: {letter: (letter file, đề cương file or None)}}: .docx always; "pdf" (one LibreOffice
    run for every file, its own profile) and "scan" (those PDFs rasterized at 200 or 150 dpi, skewed
    and speckled) when LibreOffice is installed."""
    work = tmp_path_factory.mktemp("letters")
    files: dict[str, dict[str, tuple[Path, Path | None]]] = {"docx": {}}
    for letter in LETTERS:
        path = work / f"{letter.name}.docx"
        path.write_bytes(letter.docx())
        outline = None
        if letter.outline_docx():
            outline = work / f"{letter.name}-de-cuong.docx"
            outline.write_bytes(letter.outline_docx())
        files["docx"][letter.name] = (path, outline)
    if SOFFICE is None:
        return files
    docx = [p for pair in files["docx"].values() for p in pair if p]
    subprocess.run([SOFFICE, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(work), *map(str, docx)],
                   check=True, capture_output=True, timeout=300)
    files["pdf"] = {name: tuple(p and p.with_suffix(".pdf") for p in pair) for name, pair in files["docx"].items()}
    files["scan"] = {}
    for i, (name, pair) in enumerate(files["pdf"].items()):
        dpi = (200, 150)[i % 2]  # offices scan at both; at 150 dpi the report settings lose most headings
        scans = []
        for pdf in pair:
            target = pdf and pdf.with_name(f"{pdf.stem}-scan.pdf")
            if target:
                target.write_bytes(scan(pdf.read_bytes(), seed=zlib.crc32(pdf.stem.encode()), dpi=dpi))
            scans.append(target)
        files["scan"][name] = tuple(scans)
    return files


@pytest.fixture(scope="session")
def drafts(letter_files) -> dict[str, dict[str, tuple[dict, str, str]]]:
    """{format: {letter: (campaign data, YAML, stderr)}}, each drafted once for the session; the scans
    two at a time (OCR is nearly all the cost)."""
    out = {fmt: {name: _draft(*pair) for name, pair in by_name.items()}
           for fmt, by_name in letter_files.items() if fmt != "scan"}
    if "scan" in letter_files and TESSERACT:
        with ThreadPoolExecutor(2) as pool:
            names = list(letter_files["scan"])
            drafts = pool.map(lambda n: _draft_process(*letter_files["scan"][n]), names)
            out["scan"] = dict(zip(names, drafts, strict=True))
    return out


def _report(fmt: str, figures: dict) -> str:
    return (f"{fmt}: keys exactly right {figures['keys']}/{figures['letters']}, titles {figures['titles']}/"
            f"{figures['n_titles']} ({figures['titles_folded']} but for diacritics; of the wrong, "
            f"{figures['wrong_titles_checked']} marked kiểm tra), attachments invented {figures['invented']} missed "
            f"{figures['missed']}, deadline {figures['deadlines']}/{figures['letters']}")


@pytest.mark.parametrize("fmt", ["docx", pytest.param("pdf", marks=pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice is not installed: no PDF letters"))])
def test_typed_letters(drafts, fmt):
    figures = score(drafts[fmt])
    print(_report(fmt, figures))
    assert figures["keys"] == figures["letters"] and figures["titles"] == figures["n_titles"], figures["wrong"]
    assert figures["invented"] == figures["missed"] == 0 and figures["deadlines"] == figures["letters"], \
        figures["wrong"]


@pytest.mark.skipif(SOFFICE is None or TESSERACT is None, reason="LibreOffice and tesseract are needed for scans")
def test_scanned_letters(drafts):
    figures = score(drafts["scan"])
    print(_report("scan", figures))
    assert figures["keys"] >= figures["letters"] - 1, figures["wrong"]
    assert figures["titles"] >= 0.8 * figures["n_titles"], figures["wrong"]
    assert figures["titles_folded"] >= 0.95 * figures["n_titles"], figures["wrong"]
    assert figures["invented"] == figures["missed"] == 0 and figures["deadlines"] == figures["letters"], \
        figures["wrong"]


def test_letter_without_its_outline_file_drafts_no_outline(letter_files):
    letter, _ = letter_files["docx"][MINISTRY_SEPARATE_OUTLINE.name]
    data, text, _ = _draft(letter)
    assert data["outline"] is None  # not "I. NỘI DUNG LÀM VIỆC … III. TỔ CHỨC THỰC HIỆN"
    comment = next(line for line in text.splitlines() if line.startswith("outline:"))
    assert "# kiểm tra:" in comment and "Phụ lục 1" in comment and "ĐỀ_CƯƠNG" in comment


def test_letter_and_outline_from_one_mail(letter_files, tmp_path):
    letter, outline = letter_files["docx"][MINISTRY_SEPARATE_OUTLINE.name]
    mail = tmp_path / "cong-van.eml"
    mail.write_bytes(build_mail(sender="vanthu@moet.example.vn", sender_name="Văn thư Bộ", subject="Công văn 6034",
                                received=datetime(2025, 11, 21, 9, 0),
                                attachments=[("6034-BGDDT.docx", letter.read_bytes()),
                                             ("Phu luc 1.docx", outline.read_bytes())]))
    data, _, said = _draft(mail)
    assert outline_pairs(data["outline"]) == list(MINISTRY_SEPARATE_OUTLINE.outline)
    assert data["deadline"] == datetime.fromisoformat(MINISTRY_SEPARATE_OUTLINE.deadline)
    assert "6034-BGDDT.docx" in said and "Phu luc 1.docx" in said


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is needed to make the scan")
def test_scan_without_tesseract_is_one_clear_line(letter_files, run_cli, monkeypatch):
    monkeypatch.setenv("INTAKE_TESSERACT", "/nonexistent/tesseract")
    letter, _ = letter_files["scan"][LETTERS[0].name]
    result = run_cli("campaign", "draft", str(letter))
    assert result.exit_code == 1 and "tesseract is not installed" in result.stderr and not result.stdout


def test_letter_ocr_collects_lines_with_their_least_sure_word():
    from extractors import ocr

    hocr = ("<html><body><span class='ocr_line' title='bbox 0 0 400 40; baseline 0 -5; x_size 30'>"
            "<span class='ocrx_word' title='bbox 0 0 50 40; x_wconf 96'>II.</span>"
            "<span class='ocrx_word' title='bbox 60 0 200 40; x_wconf 71'>ĐÁNH</span></span></body></html>")
    lines: list = []
    runs, confs = ocr.parse_hocr(hocr.encode(), 1.0, lines)
    assert [r.text for r in runs] == ["II. ĐÁNH"] and confs == [96.0, 71.0]
    assert lines == [ocr.OcrLine("II. ĐÁNH", 71.0)]
    with ocr.letter_ocr() as collected:
        assert ocr._SETTINGS.get().psm == "4" and collected == []
    assert ocr._SETTINGS.get().psm is None  # reports are read as before once the block ends
