"""Staff decisions in headless Chromium against a real `intake serve` (as tests/test_browser.py runs
it), as an office worker makes them on a 1366×768 laptop: each kind from the campaign, unit or
mail page, with the status before, after, and after `intake reprocess`; undo; a screenshot of each
form into test-artifacts/. Each test decides about a unit of its own, so they run in any order."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.fixtures.make_sample_inbox import CAMPAIGN, UNATTRIBUTED
from tests.test_browser import ARTIFACTS, browser, fits_the_screen, logged_in, serving  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def served(sample_db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("decisions")
    with serving(sample_db, folder) as base:
        yield base, folder / "demo.db"


@pytest.fixture(scope="module")
def staff(browser, served):  # noqa: F811 (browser is the fixture)
    context, page = logged_in(browser, served[0], f"/-/campaign/{CAMPAIGN}")
    yield page
    context.close()


def intake(db, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(INTAKE_DB=str(db), INTAKE_RULES=str(ROOT / "rules" / "nq03-2022.yml"))
    done = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def status(db, unit: str | None) -> list[dict]:
    """The unit's cached status (what the pages show), or the reports nobody could attribute."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        if unit is None:
            return [dict(r) for r in conn.execute("select * from unattributed_submissions")]
        rows = [{**dict(r), "missing_attachments": json.loads(r["missing_attachments"])}
                for r in conn.execute("select * from unit_status where unit_id = ?", [unit])]
        return rows
    finally:
        conn.close()


def unit_row(page, unit: str) -> str:
    return page.locator(f"table.intake-roster tr[data-unit='{unit}']").inner_text()


def campaign_page(page, base: str) -> None:
    page.goto(f"{base}/-/campaign/{CAMPAIGN}")
    page.wait_for_load_state("networkidle")


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"dieu-chinh-{name}.png"))


def reprocessed(page, db) -> None:
    """`intake reprocess` while the page is being served, then the page again."""
    intake(db, "--quiet", "reprocess", "--workers", "1")
    page.reload()
    page.wait_for_load_state("networkidle")


def open_panel(page, unit: str):
    row = page.locator(f"table.intake-roster tr[data-unit='{unit}']")
    row.locator("summary").click()
    return row


def recorded(page) -> str:
    page.wait_for_load_state("networkidle")
    message = page.locator(".message-info, .message-error").first.inner_text()
    assert message.startswith("Đã ghi nhận"), message
    return message


def test_assign_the_unknown_senders_report_remembering_the_address(staff, served):
    base, db = served
    campaign_page(staff, base)
    assert "Chưa nộp (quá hạn)" in unit_row(staff, "so-y-te") and status(db, None)
    stray = staff.locator("table.intake-strays tbody tr").first
    stray.locator("summary").click()
    stray.locator("select[name=value]").select_option(label="Đảng bộ Sở Y tế")
    stray.locator("input[name=remember]").check()
    stray.locator("input[name=note]").fill("Văn thư Sở Y tế gửi từ Gmail cá nhân")
    stray.scroll_into_view_if_needed()
    shot(staff, "1-gan-don-vi")
    stray.locator("button[value=assign]").click()
    assert "Gán cho đơn vị" in recorded(staff)
    for _ in range(2):
        assert "Đúng hạn" in unit_row(staff, "so-y-te") and staff.locator("table.intake-strays").count() == 0
        assert status(db, "so-y-te")[0]["status"] == "on_time" and status(db, None) == []
        reprocessed(staff, db)
    staff.click("table.intake-roster tr[data-unit='so-y-te'] >> text=Đảng bộ Sở Y tế")
    text = staff.inner_text("section.content")
    assert "Địa chỉ cán bộ đã ghi nhớ là của đơn vị" in text and UNATTRIBUTED["from"] in text
    assert "đơn vị do cán bộ xác định" in text
    fits_the_screen(staff)
    shot(staff, "1-don-vi-sau-khi-gan")


def test_exempt_then_undo(staff, served):
    base, db = served
    campaign_page(staff, base)
    assert "Đúng hạn" in unit_row(staff, "so-giao-duc")
    row = open_panel(staff, "so-giao-duc")
    row.locator("input[name=note]").fill("Theo Công văn số 25/CV-ĐU, đơn vị được miễn nộp đợt này")
    shot(staff, "2-mien-nop")
    row.locator("button[value=exempt]").click()
    assert "Miễn nộp" in recorded(staff)
    for _ in range(2):
        assert "Miễn nộp" in unit_row(staff, "so-giao-duc") and status(db, "so-giao-duc")[0]["status"] == "exempt"
        reprocessed(staff, db)
    assert "Miễn nộp (1)" in staff.inner_text(".intake-tabs")
    history = staff.locator("table.intake-history tr", has_text="Đảng bộ Sở Giáo dục và Đào tạo: miễn nộp")
    assert "Đang áp dụng" in history.inner_text() and "Theo Công văn số 25/CV-ĐU" in history.inner_text()
    history.scroll_into_view_if_needed()
    shot(staff, "2-lich-su")
    history.locator("button[value=undo]").click()
    assert "Hoàn tác" in recorded(staff)
    for _ in range(2):
        assert "Đúng hạn" in unit_row(staff, "so-giao-duc") and status(db, "so-giao-duc")[0]["status"] == "on_time"
        reprocessed(staff, db)
    assert "Đã hoàn tác" in staff.locator("table.intake-history").inner_text()


def test_paper_submission(staff, served):
    base, db = served
    campaign_page(staff, base)
    assert "Trễ hạn" in unit_row(staff, "so-cong-thuong")
    row = open_panel(staff, "so-cong-thuong")
    row.locator("input[name=value]").fill("14/06/2022 09:30")
    row.locator("input[name=note]").fill("Văn thư nhận bản giấy có chữ ký, dấu đỏ")
    shot(staff, "3-nop-ban-giay")
    row.locator("button[value=paper]").click()
    assert "Nộp bản giấy" in recorded(staff)
    for _ in range(2):
        text = unit_row(staff, "so-cong-thuong")
        assert "Đúng hạn" in text and "14/06/2022 09:30" in text and "Nộp bản giấy" in text
        assert "Quy chế dân chủ" not in text  # the paper copy carried the attachments
        got = status(db, "so-cong-thuong")[0]
        assert (got["status"], got["received_at"]) == ("on_time", "2022-06-14T09:30:00+07:00")
        assert '"status": "on_time"' in intake(db, "status", "--json", "--campaign", CAMPAIGN).stdout
        reprocessed(staff, db)


def test_note_on_a_unit(staff, served):
    base, db = served
    campaign_page(staff, base)
    row = open_panel(staff, "so-noi-vu")
    row.locator("input[name=note]").fill("Đã gọi điện nhắc gửi bản có chữ ký số")
    row.locator("button[value=note]").click()
    assert "Ghi chú" in recorded(staff)
    for _ in range(2):
        assert "Ghi chú: Đã gọi điện nhắc gửi bản có chữ ký số" in unit_row(staff, "so-noi-vu")
        assert status(db, "so-noi-vu")[0]["status"] == "on_time"
        reprocessed(staff, db)
    open_panel(staff, "so-noi-vu")
    shot(staff, "4-ghi-chu")


def test_set_a_mail_aside_from_the_unit_page(staff, served):
    base, db = served
    staff.goto(f"{base}/-/unit/so-xay-dung")
    assert status(db, "so-xay-dung")[0]["missing_attachments"] == []
    late = staff.locator(".intake-unit-text", has_text="Bổ sung Quy chế dân chủ")
    late.locator("summary").click()
    late.locator("input[name=note]").fill("Gửi nhầm bản dự thảo")
    late.scroll_into_view_if_needed()
    shot(staff, "5-khong-tinh")
    late.locator("button[value=ignore]").click()
    assert "Không tính" in recorded(staff)
    for _ in range(2):
        late = staff.locator(".intake-unit-text", has_text="Bổ sung Quy chế")
        assert "không tính (cán bộ đã bỏ)" in late.inner_text()
        assert status(db, "so-xay-dung")[0]["missing_attachments"] == ["quy_che_dan_chu"]
        reprocessed(staff, db)
    fits_the_screen(staff)


def test_say_what_a_file_is_on_the_mail_page(staff, served):
    base, db = served
    staff.goto(f"{base}/-/unit/so-tai-chinh")
    staff.click(".intake-unit-text h3 a")  # the mail page
    assert status(db, "so-tai-chinh")[0]["missing_attachments"] == ["quyet_dinh_bcd"]
    row = staff.locator("table.intake-files tr", has_text="QĐ ban hành Quy chế dân chủ.docx")
    row.locator("select[name=value]").select_option(label="Quyết định thành lập ban chỉ đạo")
    shot(staff, "6-tep-nay-la")
    row.locator("button[value=kind]").click()
    assert "Xác định loại tệp" in recorded(staff)
    for _ in range(2):
        text = staff.locator("table.intake-files tr", has_text="QĐ ban hành Quy chế dân chủ.docx").inner_text()
        assert "Quyết định thành lập ban chỉ đạo (do cán bộ xác định)" in text
        assert status(db, "so-tai-chinh")[0]["missing_attachments"] == ["quy_che_dan_chu"]
        reprocessed(staff, db)
    assert "Lịch sử điều chỉnh (1)" in staff.inner_text("section.content")
    fits_the_screen(staff)
