"""Staff decisions through `intake serve`'s Datasette (its own client, configured as `intake serve`
runs it): a POST with the CSRF token records the decision and updates the statuses at once; a POST
without the token, an anonymous one when login is on, or one from another machine without a login
is refused and writes nothing; a GET never writes; the forms and the history on the pages."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3

import httpx
import pytest

from tests.fixtures.make_sample_inbox import CAMPAIGN, UNATTRIBUTED
from tests.test_datasette_pages import PAGES, login, visible
from tests.test_datasette_staff import served_copy, start

PASSWORD = "mật-khẩu-thử 456"


@pytest.fixture
def served(sample_db, tmp_path):
    """(Datasette without a login, the database file) on a copy of the sample inbox."""
    path = served_copy(sample_db, tmp_path / "demo.db")
    return start(path, env={}), path


def get(ds, path: str, **kwargs):
    return asyncio.run(ds.client.get(path, **kwargs))


def form_token(ds, path: str, cookies: dict | None = None) -> tuple[str, dict]:
    """The CSRF token a page's forms carry, and the cookies a browser would send back."""
    page = get(ds, path, cookies=cookies)
    assert page.status_code == 200, page.text[:300]
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    return token, {**(cookies or {}), "ds_csrftoken": page.cookies.get("ds_csrftoken") or cookies["ds_csrftoken"]}


def post(ds, data: dict, cookies: dict | None = None):
    return asyncio.run(ds.client.post("/-/decide", data=data, cookies=cookies or {}))


def snapshot(path) -> dict[str, str]:
    """Every table's rows, hashed: what a request may or may not have written."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' "
                                            "and name not like 'sections_fts%'")]
        return {n: hashlib.sha256(repr(conn.execute(f"select * from [{n}] order by rowid").fetchall()).encode())
                .hexdigest() for n in names}
    finally:
        conn.close()


def unit_status(path, unit: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("select status from unit_status where unit_id = ?", [unit]).fetchone()[0]
    finally:
        conn.close()


def test_a_decision_posted_with_the_token_is_recorded_and_shown_at_once(served):
    ds, path = served
    page = f"/-/campaign/{CAMPAIGN}"
    token, cookies = form_token(ds, page)
    before = snapshot(path)
    response = post(ds, {"csrftoken": token, "kind": "exempt", "campaign": CAMPAIGN, "target": "so-y-te",
                         "note": "Công văn số 12/CV-ĐU", "next": page}, cookies)
    assert response.status_code == 302 and response.headers["location"] == page
    after = snapshot(path)
    changed = {t for t in after if after[t] != before[t]}
    assert {"decisions", "submissions"} <= changed <= {"decisions", "submissions", "attributions"}  # and the caches
    assert unit_status(path, "so-y-te") == "exempt"
    shown = visible(get(ds, page, cookies={"ds_messages": response.cookies["ds_messages"]}).text)
    assert "Đã ghi nhận điều chỉnh số 1: Miễn nộp." in shown
    assert "Đảng bộ Sở Y tế: miễn nộp" in shown and "Công văn số 12/CV-ĐU" in shown  # the history
    assert "Miễn nộp (1)" in shown  # its own tab
    home = visible(get(ds, "/").text)
    assert "6/6 đã nộp" in home and "0 chưa nộp" in home and "1 đơn vị miễn nộp (không tính vào các số trên)" in home


def test_each_kind_through_the_forms(served, sample_db):
    ds, path = served
    (mail,) = sample_db.execute("select id from messages where from_addr = ?", [UNATTRIBUTED["from"]]).fetchone()
    (file_id,) = sample_db.execute("select d.id from documents d join messages m on m.id = d.message "
                                   "where m.unit_id = 'so-tai-chinh' and d.kind = 'quy_che_dan_chu'").fetchone()
    token, cookies = form_token(ds, f"/-/mail/{mail}")
    for data in ({"kind": "assign", "target": mail, "value": "so-y-te", "remember": "1"},
                 {"kind": "kind", "target": file_id, "value": "quyet_dinh_bcd"},
                 {"kind": "paper", "target": "so-cong-thuong", "value": "14/06/2022 09:30"},
                 {"kind": "note", "target": "so-noi-vu", "note": "Đã gọi điện nhắc"},
                 {"kind": "ignore", "target": mail}):
        response = post(ds, {"csrftoken": token, "campaign": CAMPAIGN, "next": "/", **data}, cookies)
        assert response.status_code == 302, data
        assert "Đã ghi nhận" in visible(get(ds, "/", cookies={"ds_messages": response.cookies["ds_messages"]}).text)
    conn = sqlite3.connect(path)
    got = conn.execute("select kind, target, value, address, note from decisions order by id").fetchall()
    conn.close()
    assert got == [("assign", mail, "so-y-te", UNATTRIBUTED["from"], None),
                   ("kind", file_id, "quyet_dinh_bcd", None, None),
                   ("paper", "so-cong-thuong", "2022-06-14T09:30:00+07:00", None, None),
                   ("note", "so-noi-vu", "Đã gọi điện nhắc", None, None), ("ignore", mail, None, None, None)]
    assert unit_status(path, "so-cong-thuong") == "on_time" and unit_status(path, "so-y-te") == "missing"
    text = visible(get(ds, f"/-/mail/{mail}").text)
    assert "Không tính (cán bộ đã bỏ thư này)" in text and "Lịch sử điều chỉnh (2)" in text
    assert "Đã được thay bằng điều chỉnh sau" in text  # the assignment, now that it is set aside
    unit_page = visible(get(ds, "/-/unit/so-y-te").text)
    assert UNATTRIBUTED["from"] in unit_page and "Địa chỉ cán bộ đã ghi nhớ" not in unit_page  # superseded


def test_what_the_form_cannot_record_is_said_in_vietnamese_and_writes_nothing(served):
    ds, path = served
    token, cookies = form_token(ds, f"/-/campaign/{CAMPAIGN}")
    before = snapshot(path)
    response = post(ds, {"csrftoken": token, "kind": "paper", "campaign": CAMPAIGN, "target": "so-y-te",
                         "value": "hôm qua", "next": "/-/unit/so-y-te"}, cookies)
    assert response.status_code == 302 and snapshot(path) == before
    text = visible(get(ds, "/-/unit/so-y-te", cookies={"ds_messages": response.cookies["ds_messages"]}).text)
    assert "Chưa ghi nhận: Cần ghi ngày giờ nhận bản giấy, ví dụ 14/06/2022 09:30." in text


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(served):
    ds, path = served
    token, cookies = form_token(ds, f"/-/campaign/{CAMPAIGN}")
    before = snapshot(path)
    data = {"kind": "exempt", "campaign": CAMPAIGN, "target": "so-y-te", "next": "/"}
    refused = post(ds, data, cookies)  # the cookie but no token: asgi-csrf refuses, in Vietnamese here
    assert refused.status_code == 403 and "biểu mẫu đã hết hạn" in refused.text
    assert "CSRF" not in visible(refused.text)
    assert post(ds, {**data, "csrftoken": "gia-mao"}, cookies).status_code == 403
    assert post(ds, {**data, "csrftoken": token}).status_code == 403  # no cookie at all (a cross-site form)
    assert snapshot(path) == before and unit_status(path, "so-y-te") == "missing"


def test_a_get_never_writes(served, sample_db):
    ds, path = served
    (mail,) = sample_db.execute("select id from messages where from_addr = ?", [UNATTRIBUTED["from"]]).fetchone()
    before = snapshot(path)
    for page in [*PAGES, f"/-/mail/{mail}", "/-/unit/so-y-te", "/-/decide?kind=exempt&target=so-y-te&campaign="
                 f"{CAMPAIGN}", f"/-/campaign/{CAMPAIGN}/status.xlsx", "/demo/decisions"]:
        response = get(ds, page)
        assert response.status_code in (200, 404, 405), page
    assert get(ds, "/-/decide").status_code == 405
    assert snapshot(path) == before


def test_only_from_this_machine_without_a_login(served):
    ds, path = served
    token, cookies = form_token(ds, f"/-/campaign/{CAMPAIGN}")

    before = snapshot(path)

    async def from_elsewhere():
        transport = httpx.ASGITransport(app=ds.app(), client=("192.0.2.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.example", cookies=cookies) as client:
            page = await client.get(f"/-/campaign/{CAMPAIGN}")
            refused = await client.post("/-/decide", data={"csrftoken": token, "kind": "exempt", "campaign": CAMPAIGN,
                                                           "target": "so-y-te", "next": "/"})
            return page, refused

    page, refused = asyncio.run(from_elsewhere())
    assert page.status_code == 200 and 'action="/-/decide"' not in page.text  # no forms: only the history
    assert "Lịch sử điều chỉnh" in visible(page.text)
    assert refused.status_code == 403 and snapshot(path) == before


def test_with_login_anonymous_posts_are_refused_and_staff_decide_under_their_name(sample_db, tmp_path, monkeypatch):
    from datasette_auth_passwords.utils import hash_password

    env = {"INTAKE_PASSWORD_HASH": hash_password(PASSWORD, iterations=1000)}
    monkeypatch.setenv("INTAKE_PASSWORD_HASH", env["INTAKE_PASSWORD_HASH"])
    path = served_copy(sample_db, tmp_path / "demo.db")
    ds = start(path, env=env)
    form = get(ds, "/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', form.text).group(1)
    data = {"csrftoken": token, "kind": "exempt", "campaign": CAMPAIGN, "target": "so-y-te", "next": "/"}
    before = snapshot(path)
    anonymous = post(ds, data, {"ds_csrftoken": form.cookies["ds_csrftoken"]})
    assert anonymous.status_code == 403 and "Không có quyền" in anonymous.text
    assert snapshot(path) == before
    actor = login(ds, password=PASSWORD).cookies["ds_actor"]
    token, cookies = form_token(ds, f"/-/campaign/{CAMPAIGN}", {"ds_actor": actor})
    assert post(ds, {**data, "csrftoken": token}, cookies).status_code == 302
    conn = sqlite3.connect(path)
    assert conn.execute("select [by], kind from decisions").fetchall() == [("Văn phòng", "exempt")]
    conn.close()
