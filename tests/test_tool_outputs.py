"""LibreOffice's and tesseract's outputs kept in the database: reading the same bytes again
(`intake reprocess`) runs neither again, unless their program or data changed or staff ask."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from extractors import ocr
from extractors.toolcache import key, remembered
from tests.fixtures.corpus import _scan
from tests.fixtures.documents import Report
from tests.fixtures.mail import VN, build_mail

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("tesseract") is None,
                                reason="LibreOffice and tesseract needed")
REPORT = Report("Đảng ủy Sở Nội vụ", issuer="ĐẢNG ỦY SỞ NỘI VỤ", number="60-BC/ĐU", date=(2022, 6, 10),
                signer="Nguyễn Thị Mai")


def _counting(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A wrapper of the real program that writes its arguments to its log at each run."""
    log, wrapper = tmp_path / f"{name}.log", tmp_path / name
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec {shutil.which(name)} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


def _runs(log: Path) -> int:
    """How many files the program read (not counting `tesseract --list-langs`)."""
    return sum("--list-langs" not in line for line in log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    """A unit's mail with its report twice: as a Word 97-2003 .doc and as a scan."""
    work = tmp_path_factory.mktemp("tools")
    (work / "bao-cao.docx").write_bytes(REPORT.docx())
    subprocess.run(["soffice", f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
                    "--convert-to", "doc", "--outdir", str(work), str(work / "bao-cao.docx")],
                   check=True, capture_output=True, timeout=120)
    mail = build_mail(sender="vanthu@sonoivu.example.vn", sender_name="Văn thư", subject="Báo cáo sơ kết NQ03",
                      received=datetime(2022, 6, 10, 9, tzinfo=VN),
                      attachments=[("Bao cao so ket.doc", (work / "bao-cao.doc").read_bytes()),
                                   ("Bao cao so ket (scan).pdf", _scan(REPORT.pdf()))])
    path = work / "mail.eml"
    path.write_bytes(mail)
    return path


def _texts(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("select d.filename, d.kind, d.text from documents d order by d.id").fetchall()
    finally:
        conn.close()


def test_reprocess_reuses_what_libreoffice_and_tesseract_made(tmp_path, run_cli, monkeypatch, inbox):
    soffice, soffice_log = _counting(tmp_path, "soffice")
    tesseract, tesseract_log = _counting(tmp_path, "tesseract")
    monkeypatch.setenv("INTAKE_SOFFICE", str(soffice))
    monkeypatch.setenv("INTAKE_TESSERACT", str(tesseract))
    database = tmp_path / "intake.db"

    result = run_cli("ingest", str(inbox), "--workers", "2")
    assert result.exit_code == 0, result.output
    first = (_runs(soffice_log), _runs(tesseract_log))
    assert first[0] == 1 and first[1] >= 2  # the .doc once, the scan's pages (and their columns)
    kept = sqlite3.connect(database).execute("select tool, count(*) from tool_outputs group by tool").fetchall()
    assert dict(kept).keys() == {"soffice", "tesseract", "ocr-page"}
    before = _texts(database)
    assert len(before) == 2 and all(kind == "report" and len(text) > 1000 for _, kind, text in before)

    for workers in ("2", "1"):  # through the pool, and in the process itself
        result = run_cli("reprocess", "--workers", workers)
        assert result.exit_code == 0, result.output
        assert _runs(soffice_log) == first[0]  # LibreOffice not started again
        assert _runs(tesseract_log) == first[1]
        assert _texts(database) == before

    result = run_cli("reprocess", "--rerun-tools", "--workers", "1")
    assert result.exit_code == 0 and "kept outputs of LibreOffice and tesseract dropped" in result.output
    assert _runs(soffice_log) == 2 * first[0] and _runs(tesseract_log) == 2 * first[1]
    assert _texts(database) == before


def test_an_upgraded_program_or_a_damaged_row_runs_the_tool_again(tmp_path, run_cli, monkeypatch, inbox):
    soffice, soffice_log = _counting(tmp_path, "soffice")
    monkeypatch.setenv("INTAKE_SOFFICE", str(soffice))
    database = tmp_path / "intake.db"
    assert run_cli("ingest", str(inbox), "--workers", "1").exit_code == 0
    before = _texts(database)

    stat = soffice.stat()
    os.utime(soffice, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a new package of it
    assert run_cli("reprocess", "--workers", "1").exit_code == 0
    assert _runs(soffice_log) == 2
    assert _kept(database)["soffice"] == 1  # the old package's output, which nothing reads now, dropped

    conn = sqlite3.connect(database)
    with conn:
        conn.execute("update tool_outputs set output = x'00ff'")
    conn.close()
    assert run_cli("reprocess", "--workers", "1").exit_code == 0
    assert _runs(soffice_log) == 3
    assert _texts(database) == before


def _kept(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("select tool, count(*) from tool_outputs group by tool").fetchall())
    finally:
        conn.close()


def test_a_reprocess_of_every_mail_drops_the_outputs_none_used(tmp_path, run_cli, inbox):
    database = tmp_path / "intake.db"
    assert run_cli("ingest", str(inbox), "--workers", "2").exit_code == 0
    kept = _kept(database)
    conn = sqlite3.connect(database)
    with conn:  # made by an older intake a year ago: read by no mail now
        conn.execute("""insert into tool_outputs (key, tool, output, size, made_at)
                        values ('old-soffice', 'soffice', x'00', 1, '2021-06-01T00:00:00+00:00'),
                               ('old-page', 'ocr-page', x'00', 1, '2021-06-01T00:00:00+00:00')""")
    conn.close()
    assert run_cli("reprocess", "--campaign", "nq03-2022", "--workers", "1").exit_code == 0
    assert _kept(database) == {tool: n + (tool in ("soffice", "ocr-page")) for tool, n in kept.items()}

    for workers in ("2", "1"):  # the keys come back from the pool, and from the process itself
        assert run_cli("reprocess", "--workers", workers).exit_code == 0
        assert _kept(database) == kept


def test_outputs_made_while_a_reprocess_ran_are_not_dropped(tmp_path):
    import sqlite_utils

    from pipeline.schema import ensure
    from pipeline.tool_outputs import OutputsInUse

    db = sqlite_utils.Database(tmp_path / "intake.db")
    ensure(db)
    conn = db.conn
    rows = [("used", "2022-01-01T00:00:00+00:00"), ("unused", "2022-01-01T00:00:00+00:00"),
            ("made-meanwhile", "2022-06-10T09:00:05+00:00")]
    with conn:
        conn.executemany("insert into tool_outputs (key, tool, output, size, made_at) "
                         "values (?, 'soffice', x'00', 1, ?)", rows)
    in_use = OutputsInUse(conn, "2022-06-10T09:00:00+00:00")
    in_use.add(["used"])
    assert not conn.in_transaction  # one left open would hold a read lock through the whole reprocess
    assert in_use.drop_unused() == 1
    assert [r[0] for r in conn.execute("select key from tool_outputs order by key")] == ["made-meanwhile", "used"]


def test_a_scanned_page_whose_reading_is_kept_is_not_rendered_again(tmp_path, run_cli, monkeypatch, inbox):
    tesseract, tesseract_log = _counting(tmp_path, "tesseract")
    monkeypatch.setenv("INTAKE_TESSERACT", str(tesseract))
    database = tmp_path / "intake.db"
    assert run_cli("ingest", str(inbox), "--workers", "1").exit_code == 0
    before, runs = _texts(database), _runs(tesseract_log)

    rendered = []
    read_page = ocr._read_pdf_page
    monkeypatch.setattr(ocr, "_read_pdf_page", lambda page: rendered.append(page) or read_page(page))
    _forget(database, "tesseract")  # the page's reading is enough
    assert run_cli("reprocess", "--workers", "1").exit_code == 0
    assert not rendered and _runs(tesseract_log) == runs and _texts(database) == before

    _forget(database, "ocr-page")  # read again: rendered, and tesseract's hOCR asked of the table
    assert run_cli("reprocess", "--workers", "1").exit_code == 0
    assert rendered and _runs(tesseract_log) == 2 * runs  # the hOCR rows were dropped above: tesseract ran
    assert _texts(database) == before
    kept = sqlite3.connect(database).execute("select tool, count(*) from tool_outputs group by tool").fetchall()
    assert dict(kept).keys() == {"soffice", "tesseract", "ocr-page"}

    _forget(database, "ocr-page")
    assert run_cli("reprocess", "--workers", "1").exit_code == 0
    assert _runs(tesseract_log) == 2 * runs  # the hOCR kept: tesseract not run again
    assert _texts(database) == before


def test_a_page_reading_is_known_by_its_page_its_settings_and_the_code_that_read_it(monkeypatch):
    pdf, other = (hashlib.sha256(data).digest() for data in (b"%PDF-1.4 a scan", b"%PDF-1.4 a scan "))
    first = ocr.page_reading_key(pdf, 0)
    assert first == ocr.page_reading_key(pdf, 0)
    assert len({first, ocr.page_reading_key(pdf, 1), ocr.page_reading_key(other, 0)}) == 3
    with ocr.letter_ocr():  # a call letter is read at its own resolution, segmentation 4
        assert ocr.page_reading_key(pdf, 0) != first
    monkeypatch.setattr(ocr, "_code_mark", lambda: "another version of intake")
    assert ocr.page_reading_key(pdf, 0) != first


def _forget(database: Path, tool: str) -> None:
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("delete from tool_outputs where tool = ?", [tool])
    conn.close()


def test_only_what_ran_to_the_end_is_remembered():
    class Kept(dict):
        def put(self, key, tool, output):
            self[key] = output

    kept = Kept()

    def failing() -> bytes:
        raise RuntimeError("tesseract timed out")

    psm6, psm4 = (key("tesseract", "mark", ["--psm", psm], b"image") for psm in ("6", "4"))
    with pytest.raises(RuntimeError):
        remembered(kept, "tesseract", lambda: psm6, failing)
    assert not kept
    assert remembered(kept, "tesseract", lambda: psm6, lambda: b"<hocr/>") == b"<hocr/>"
    assert remembered(kept, "tesseract", lambda: psm6, failing) == b"<hocr/>"
    assert remembered(kept, "tesseract", lambda: psm4, lambda: b"<other/>") == b"<other/>"
    assert len(kept) == 2 and psm6 != key("tesseract", "mark", ["--psm", "6"], b"other image")

