"""Headless Chromium against a real `intake serve`: log in, open the dashboard, run a search.

Needs Debian's chromium (/usr/bin/chromium) and the playwright package (no browser download:
playwright drives the system Chromium). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

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


@pytest.fixture(scope="module")
def served(sample_db, tmp_path_factory):
    """`intake serve` in a subprocess on a free loopback port, with a staff password."""
    from datasette_auth_passwords.utils import hash_password

    path = tmp_path_factory.mktemp("browser") / "demo.db"
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


def test_staff_logs_in_opens_dashboard_and_searches(served):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400}, locale="vi-VN")
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(served + "/")
            assert page.url.endswith("/-/login")  # anonymous: sent to the login form
            page.fill("#id_username", "vanphong")
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_load_state("networkidle")
            assert "Báo cáo các đơn vị" in page.content()

            page.goto(served + "/-/dashboards/tinh-hinh-nop-bao-cao")
            page.wait_for_selector("svg.marks, canvas.marks", timeout=20000)
            page.wait_for_load_state("networkidle")
            assert "Bảng theo dõi nộp báo cáo" in page.content()
            assert "Chi bộ Hội Nông dân tỉnh" in page.content()  # completeness table
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            page.goto(served + "/demo")
            page.click("a[href='/demo/tim_trong_noi_dung']")
            page.fill("input[name=tu_khoa]", "dang uy")
            page.click("form.sql input[type=submit]")
            page.wait_for_load_state("networkidle")
            assert "Đảng ủy" in page.content()
            page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=False)
            # Everything the pages loaded came from the server itself: no CDN.
            assert all(u.startswith(served) or u.startswith("data:") for u in requests), \
                [u for u in requests if not u.startswith(served)]
        finally:
            browser.close()
