"""Headless Chromium against a real `intake serve`, as office staff use it on a 1366×768 laptop:
log in (and land on the page asked for), then each everyday task from the home page in at most two
clicks, with a screenshot of each (test-artifacts/); the charts and developer views stay reachable.

Needs Debian's chromium (/usr/bin/chromium) and the playwright package (no browser download:
playwright drives the system Chromium). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import ROOT
from tests.fixtures.make_sample_inbox import CAMPAIGN, UNATTRIBUTED

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "thu-nghiem-2022"

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; ./scripts/setup --test does it)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(sample_db, folder: Path):
    """`intake serve` in a subprocess on a free loopback port, with a staff password, on a copy of
    the sample inbox in `folder`: yields its address."""
    from datasette_auth_passwords.utils import hash_password

    path = folder / "demo.db"
    sample_db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(sample_db.conn.execute("PRAGMA database_list").fetchone()[2], path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(INTAKE_PASSWORD_HASH=hash_password(PASSWORD), INTAKE_DB=str(path),
               INTAKE_RULES=str(ROOT / "rules" / "nq03-2022.yml"))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/-/login", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"intake serve exited: {proc.stdout.read().decode()}")
                time.sleep(0.2)
        else:
            pytest.fail("intake serve did not answer")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def served(sample_db, tmp_path_factory):
    with serving(sample_db, tmp_path_factory.mktemp("browser")) as base:
        yield base


VIEWPORT = {"width": 1366, "height": 768}  # the office's laptops


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        try:
            yield browser
        finally:
            browser.close()


def logged_in(browser, served: str, path: str):
    """A logged-in staff member's browser page (1366×768, Vietnamese) that asked for `path` first,
    and every URL it loaded."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT, locale="vi-VN", accept_downloads=True)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(served + path)
    assert f"/-/login?next={quote(path, safe='')}" in page.url  # anonymous: sent to the login form
    page.fill("#id_username", "vanphong")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url == served + path  # back to the page asked for
    return context, page


@pytest.fixture(scope="module")
def staff(browser, served):
    context, page = logged_in(browser, served, f"/-/campaign/{CAMPAIGN}")
    yield page
    # Everything the pages loaded came from the server itself: no CDN.
    assert all(u.startswith(served) or u.startswith("data:") for u in page.requests), \
        [u for u in page.requests if not u.startswith(served)]
    context.close()


def home(page, served) -> None:
    page.goto(served + "/")
    page.wait_for_load_state("networkidle")


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))  # what a 1366×768 screen shows


def fits_the_screen(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]  # no horizontal scroll


def test_who_has_not_sent(staff, served):
    home(staff, served)
    staff.click(f".intake-card[data-campaign='{CAMPAIGN}'] a.missing")  # 1 click
    rows = staff.locator("table.intake-roster tbody tr")
    assert rows.count() == 1 and "Đảng bộ Sở Y tế" in rows.first.inner_text()
    assert "Chưa nộp (quá hạn)" in rows.first.inner_text()
    fits_the_screen(staff)
    shot(staff, "1-chua-nop")


def test_who_is_late_and_by_how_much(staff, served):
    home(staff, served)
    staff.click(f".intake-card[data-campaign='{CAMPAIGN}'] a.late")  # 1 click
    row = staff.locator("table.intake-roster tbody tr").first
    assert "Chi bộ Sở Công Thương" in row.inner_text() and "trễ 1 ngày 8 giờ" in row.inner_text()
    assert "16/06/2022 08:40" in row.inner_text()
    shot(staff, "2-tre-han")


def test_what_a_unit_is_missing(staff, served):
    home(staff, served)
    staff.click(f".intake-card[data-campaign='{CAMPAIGN}'] h2 a")  # 1: the campaign
    first_row = staff.locator("table.intake-roster tbody tr").first.bounding_box()
    assert first_row["y"] + first_row["height"] < VIEWPORT["height"]  # the first screen shows data
    fits_the_screen(staff)
    shot(staff, "0-dot-bao-cao")
    staff.click("text=Chi bộ Sở Công Thương")  # 2: the unit
    text = staff.inner_text("section.content")
    assert "Chi bộ Sở Công Thương" in staff.inner_text("h1")
    assert "Quy chế dân chủ của cơ quan, đơn vị" in text and "Trễ hạn" in text
    fits_the_screen(staff)
    shot(staff, "3-don-vi-con-thieu")


def test_section_of_every_unit(staff, served):
    home(staff, served)
    staff.click(f".intake-card[data-campaign='{CAMPAIGN}'] h2 a")  # 1
    staff.click(".intake-section-links a[title^='II.1.']")  # 2
    assert staff.inner_text("h1") == "Mục II.1. Ưu điểm"
    assert staff.locator(".intake-unit-text").count() == 6  # every unit that sent a report
    assert "Đảng bộ Sở Y tế: chưa nộp báo cáo" in staff.inner_text("section.content")
    fits_the_screen(staff)
    shot(staff, "4-muc-II.1")


def test_open_the_original_file_of_a_units_report(staff, served):
    home(staff, served)
    staff.click(f".intake-card[data-campaign='{CAMPAIGN}'] h2 a")  # 1
    row = staff.locator("table.intake-roster tr[data-unit='so-cong-thuong']")
    with staff.expect_download() as download:
        row.locator("a[download]").click()  # 2
    assert download.value.suggested_filename == "Báo cáo sơ kết Nghị quyết 03.docx"
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"
    shot(staff, "5-tep-bao-cao")


def test_search_without_diacritics(staff, served):
    home(staff, served)
    staff.fill("header input[name=q]", "quy che dan chu")
    staff.click("header .intake-search button")  # 1
    staff.wait_for_load_state("networkidle")
    results = staff.locator(".intake-results li")
    assert results.count() > 5
    first = results.first.inner_text()
    assert "quy chế dân chủ" in first.lower() and ".docx" in first
    assert staff.locator(".intake-results mark").first.inner_text().lower() == "quy chế dân chủ"
    fits_the_screen(staff)
    shot(staff, "6-tim-kiem")


def test_the_unknown_senders_report(staff, served):
    home(staff, served)
    staff.click("text=1 báo cáo chưa xác định được đơn vị gửi")  # 1
    apart = staff.locator("table.intake-strays tbody tr")
    assert apart.count() == 1 and UNATTRIBUTED["from"] in apart.first.inner_text()
    assert UNATTRIBUTED["from"] not in staff.inner_text("table.intake-roster")
    staff.locator("#chua-ro").scroll_into_view_if_needed()
    shot(staff, "7-chua-ro-don-vi")
    apart.first.locator("text=xem thư").click()  # 2
    text = staff.inner_text("section.content")
    assert "Chưa xác định được đơn vị gửi" in text and "Bao cao so ket NQ03 - Benh vien.docx" in text
    shot(staff, "7-thu-chua-ro-don-vi")


def test_dashboard_and_the_developer_views_stay_reachable(staff, served):
    home(staff, served)
    staff.click("footer >> text=biểu đồ")
    staff.wait_for_selector("svg.marks, canvas.marks", timeout=20000)
    staff.wait_for_load_state("networkidle")
    assert "Bảng theo dõi nộp báo cáo" in staff.content()
    assert "Chi bộ Hội Nông dân tỉnh" in staff.content()  # completeness table
    staff.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    home(staff, served)
    staff.click("footer >> text=bảng dữ liệu và truy vấn")
    staff.click("a[href='/demo/tim_trong_noi_dung']")
    staff.fill("input[name=tu_khoa]", "dang uy")
    staff.click("form.sql input[type=submit]")
    staff.wait_for_load_state("networkidle")
    assert "Đảng ủy" in staff.content()
    staff.screenshot(path=str(ARTIFACTS / "search.png"))
