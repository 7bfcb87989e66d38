"""The staff pages (pipeline/staff/) through Datasette's own client, configured exactly as `intake
serve` runs it: what each page says about the sample inbox, the paths other tools depend on, the
login around them, the downloads read back, and no English chrome anywhere staff go."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from pipeline.serve import build_datasette
from tests.conftest import CAMPAIGN_FILE, SAMPLE_INBOX
from tests.fixtures.mail import VN, build_mail
from tests.fixtures.make_sample_inbox import CAMPAIGN, EXPECTED, REPORTS, UNATTRIBUTED
from tests.test_datasette_staff import ingest_into, served_copy

PASSWORD = "mật-khẩu-thử 789"
UNIT_NAMES = {"so-noi-vu": "Đảng bộ Sở Nội vụ", "so-y-te": "Đảng bộ Sở Y tế",
              "so-cong-thuong": "Chi bộ Sở Công Thương", "hoi-nong-dan": "Chi bộ Hội Nông dân tỉnh"}
# Datasette's English, which no page staff go to may show (visible text, titles, buttons).
ENGLISH_CHROME = ["rows", "row", "Run SQL", "Apply", "Log out", "Log in", "Powered by", "Datasette", "Menu",
                  "Queries took", "Error", "Not found", "Forbidden", "Invalid username", "password", "Download",
                  "Advanced export", "View and edit SQL", "Show SQL", "sort", "facet", "Suggested", "Search",
                  "Submit", "results", "records", "This instance", "JSON", "CSV", "Link", "Filter", "Home"]


def start(path: str, env: dict | None = None):
    ds = build_datasette(path, env=env or {})
    asyncio.run(ds.invoke_startup())
    return ds


def get(ds, path: str, **kwargs):
    return asyncio.run(ds.client.get(path, **kwargs))


@pytest.fixture(scope="module")
def ds(sample_db, tmp_path_factory):
    return start(served_copy(sample_db, tmp_path_factory.mktemp("pages") / "demo.db"))


class Visible(HTMLParser):
    """The text a visitor reads: text nodes (not scripts or styles), titles, button and field text."""

    def __init__(self, tooltips: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._tooltips = tooltips

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        for name in ("title", "placeholder", "aria-label", "alt"):
            if attrs.get(name) and (self._tooltips or name != "title"):
                self.parts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible(html: str, tooltips: bool = True) -> str:
    parser = Visible(tooltips)
    parser.feed(html)
    return re.sub(r"\s([:,.;)])", r"\1", " ".join(" ".join(parser.parts).split()))


def page(ds, path: str, status: int = 200, **kwargs) -> str:
    response = get(ds, path, **kwargs)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return visible(response.text)


def row_of(html_text: str, name: str) -> str:
    """The visible text of the campaign page's row for one unit (up to the next unit's name)."""
    start = html_text.index(name)
    ends = [html_text.find(other, start + len(name)) for other in UNIT_NAMES.values() if other != name]
    ends = [e for e in ends if e > 0]
    return html_text[start:min(ends) if ends else start + 400]


# ---- what the pages say ----------------------------------------------------------------------------

def test_home_counts_whole_units_and_links_each_number(ds):
    response = get(ds, "/")
    text = visible(response.text)
    submitted = sum(e["status"] in ("on_time", "late") for e in EXPECTED.values())
    assert "Sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK" in text
    assert f"{submitted}/{len(EXPECTED)} đã nộp" in text and "1 trễ hạn" in text and "1 chưa nộp" in text
    assert "trước ngày 15/06/2022" in text and "quá hạn" in text
    assert "1 báo cáo chưa xác định được đơn vị gửi (không tính vào các số trên)" in text
    for view in ("da-nop", "tre-han", "chua-nop", "con-thieu"):
        assert f'href="/-/campaign/{CAMPAIGN}?xem={view}"' in response.text
    assert 'action="/-/search"' in response.text


def test_campaign_page_shows_each_unit_in_words(ds):
    text = visible(get(ds, f"/-/campaign/{CAMPAIGN}").text, tooltips=False)
    late = row_of(text, UNIT_NAMES["so-cong-thuong"])
    assert "Trễ hạn" in late and "trễ 1 ngày 8 giờ" in late and "16/06/2022 08:40" in late
    assert "Quy chế dân chủ của cơ quan, đơn vị" in late  # the attachment's title, not its id
    assert "Mục III. ĐỀ XUẤT, KIẾN NGHỊ" in row_of(text, UNIT_NAMES["hoi-nong-dan"])
    assert "Chưa nộp (quá hạn)" in row_of(text, UNIT_NAMES["so-y-te"])
    for code in ("on_time", "quy_che_dan_chu", "late_attachment", "unknown_sender", "2022-06-16T"):
        assert code not in text  # codes are tooltips at most ("Mã: late")
    html = get(ds, f"/-/campaign/{CAMPAIGN}").text
    assert 'title="Mã: late"' in html
    assert re.search(r'href="/-/tai-ve/demo/tep\?id=[0-9a-f]{64}%3A', html)  # the current report's file
    assert re.search(r'href="/-/mail/[0-9a-f]{64}"', html) and 'href="/-/unit/so-noi-vu"' in html


def roster(ds, path: str) -> str:
    """The visible text of a campaign page above the reports nobody could attribute (whose unit
    pickers name every unit)."""
    return visible(get(ds, path).text.partition('id="chua-ro"')[0])


def test_campaign_tabs_filter_by_status(ds):
    only = roster(ds, f"/-/campaign/{CAMPAIGN}?xem=chua-nop")
    assert UNIT_NAMES["so-y-te"] in only and UNIT_NAMES["so-noi-vu"] not in only
    late = roster(ds, f"/-/campaign/{CAMPAIGN}?xem=tre-han")
    assert UNIT_NAMES["so-cong-thuong"] in late and UNIT_NAMES["so-noi-vu"] not in late
    assert "Tất cả (7)" in only and "Chưa nộp (1)" in only and "Trễ hạn (1)" in only


def test_reports_nobody_could_attribute_are_listed_apart(ds):
    html = get(ds, f"/-/campaign/{CAMPAIGN}").text
    roster, _, apart = html.partition('id="chua-ro"')
    assert UNATTRIBUTED["from"] not in roster
    assert UNATTRIBUTED["from"] in apart and "Báo cáo chưa xác định được đơn vị gửi (1)" in visible(apart)
    assert "không được tính là báo cáo của đơn vị nào" in visible(apart)


def test_unit_page_has_everything_about_the_unit(ds):
    text = page(ds, "/-/unit/so-xay-dung")
    assert "Đảng bộ Sở Xây dựng" in text and "dangbo@sxd.example.vn" in text
    assert "Thư đã nhận của đơn vị (2)" in text
    assert "Bổ sung Quy chế dân chủ - Đảng bộ Sở Xây dựng" in text and "17/06/2022 10:20" in text
    assert "Quy chế dân chủ Sở Xây dựng.docx" in text and "Quy chế dân chủ của cơ quan, đơn vị" in text
    assert "Đúng hạn" in text
    text = page(ds, "/-/unit/so-giao-duc")
    assert "Trong tệp nén" in text and "Có mục ngoài đề cương" in text  # origin and flag in words
    unit_page = page(ds, "/-/unit/so-y-te")
    assert "Chưa nộp (quá hạn)" in unit_page and "Chưa nhận được thư nào" in unit_page


def test_mail_page(ds, sample_db):
    (mail_id,) = sample_db.execute("select id from messages where from_addr = ?", [UNATTRIBUTED["from"]]).fetchone()
    text = page(ds, f"/-/mail/{mail_id}")
    assert "Chưa xác định được đơn vị gửi" in text and "14/06/2022 10:12" in text
    assert "Bao cao so ket NQ03 - Benh vien.docx" in text and "Báo cáo" in text


def test_section_page_lists_every_unit_and_those_without(ds):
    html = get(ds, f"/-/campaign/{CAMPAIGN}/section/II.1").text
    text = visible(html)
    assert "Mục II.1. Ưu điểm" in text
    for unit in ("so-noi-vu", "so-cong-thuong", "hoi-nong-dan"):
        assert " ".join(REPORTS[unit].expected_sections()["II.1"].split())[:60] in text, unit
    for unit in EXPECTED:
        assert f'data-unit="{unit}"' in html or unit == "so-y-te"
    assert "Đơn vị không có mục này (1)" in text and "Đảng bộ Sở Y tế: chưa nộp báo cáo" in text
    without = visible(get(ds, f"/-/campaign/{CAMPAIGN}/section/III").text)
    assert "Chi bộ Hội Nông dân tỉnh: báo cáo không có mục III" in without
    assert text.index("Đảng bộ Sở Nội vụ") < text.index("Đảng bộ Sở Tài chính")  # roster order
    assert all(f"/-/campaign/{CAMPAIGN}/section/{key}" in html for key in ("I", "I.1", "II.3", "III"))


@pytest.mark.parametrize("query", ["quy che dan chu", "quy chế dân chủ", "QUY CHẾ DÂN CHỦ"])
def test_search_with_or_without_diacritics(ds, query):
    html = get(ds, "/-/search", params={"q": query}).text
    text = visible(html)
    assert "kết quả cho «" in text
    assert "<mark>quy chế dân chủ</mark>" in html
    assert "Chi bộ Hội Nông dân tỉnh" in text and "Mục II.1. Ưu điểm" in text
    assert "Chưa xác định đơn vị" in text  # the hospital's report is found, with no unit
    assert re.search(r'href="/-/tai-ve/demo/tep\?id=', html)


def test_search_without_diacritics_finds_a_heading_with_d(ds):
    # "đ" is a letter of its own, not a diacritic: only the folded heading lets "diem" find "điểm"
    text = page(ds, "/-/search?q=uu+diem")
    assert "Mục II.1. Ưu điểm" in text and "Không tìm thấy" not in text


def test_search_without_a_match_says_so_in_vietnamese(ds):
    text = page(ds, "/-/search?q=xyzzy+khong+co")
    assert "Không tìm thấy «xyzzy khong co»" in text
    assert "Gõ một cụm từ" in page(ds, "/-/search")


def test_search_marks_superseded_reports(tmp_path):
    from tests.fixtures.documents import Report

    mails = []
    for n, day in enumerate((10, 12)):
        report = Report("Đảng ủy Sở Nội vụ", "ĐẢNG ỦY SỞ NỘI VỤ", f"6{n}-BC/ĐU", (2022, 6, day), "Nguyễn Thị Mai")
        path = tmp_path / f"{n}.eml"
        path.write_bytes(build_mail(sender="dangbo@snv.example.vn", sender_name="Đảng ủy Sở Nội vụ",
                                    subject=f"Báo cáo NQ03 lần {n + 1}", received=datetime(2022, 6, day, 9, tzinfo=VN),
                                    attachments=[(f"bao-cao-lan-{n + 1}.docx", report.docx())]))
        mails.append(path)
    ds = start(ingest_into(tmp_path, *mails))
    current = page(ds, "/-/search?q=quy+che+dan+chu")
    assert "bao-cao-lan-2.docx" in current and "bao-cao-lan-1.docx" not in current
    both = page(ds, "/-/search?q=quy+che+dan+chu&cu=1")
    assert "bao-cao-lan-1.docx" in both and "Bản cũ, đã được thay thế" in both


# ---- the paths other tools depend on ------------------------------------------------------------------

CONTRACT = ["/", f"/-/campaign/{CAMPAIGN}", "/-/unit/so-noi-vu", f"/-/campaign/{CAMPAIGN}/section/II.1",
            f"/-/campaign/{CAMPAIGN}/summary.docx", f"/-/campaign/{CAMPAIGN}/status.xlsx"]
UNKNOWN = ["/-/campaign/khong-co", "/-/unit/khong-co", f"/-/campaign/{CAMPAIGN}/section/IX.9",
           "/-/campaign/khong-co/section/I", "/-/campaign/khong-co/summary.docx", "/-/campaign/khong-co/status.xlsx",
           "/-/mail/khong-co", "/-/khong-co-trang-nay", "/demo/khong_co_bang"]


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_ids_answer_a_vietnamese_404(ds, path):
    response = get(ds, path)
    assert response.status_code == 404
    text = visible(response.text)
    assert "Không tìm thấy trang" in text and "Về trang chủ" in text
    assert "Traceback" not in response.text and "Not Found" not in text


def test_a_bug_is_a_vietnamese_500_without_traceback(ds, monkeypatch):
    from pipeline.staff import data

    def broken(conn):
        raise RuntimeError("a bug in a query")

    monkeypatch.setattr(data, "counts", broken)
    response = get(ds, "/")
    assert response.status_code == 500
    assert "Đã có lỗi" in visible(response.text)
    assert "a bug in a query" not in response.text and "Traceback" not in response.text


def login(ds, path: str = "/-/login", username: str = "vanphong", password: str = PASSWORD):
    form = get(ds, path)
    token = re.search(r'name="csrftoken" value="([^"]+)"', form.text).group(1)
    action = re.search(r'<form class="password-login core" action="([^"]+)"', form.text).group(1)
    return asyncio.run(ds.client.post(action.replace("&amp;", "&"), data={
        "username": username, "password": password, "csrftoken": token},
        cookies={"ds_csrftoken": form.cookies["ds_csrftoken"]}))


PASSWORD_HASH = {}


@pytest.fixture(scope="module")
def protected_ds(sample_db, tmp_path_factory):
    from datasette_auth_passwords.utils import hash_password

    PASSWORD_HASH["INTAKE_PASSWORD_HASH"] = hash_password(PASSWORD, iterations=1000)
    return start(served_copy(sample_db, tmp_path_factory.mktemp("protected") / "demo.db"), PASSWORD_HASH)


@pytest.fixture
def protected(protected_ds, monkeypatch):
    """Datasette with a staff password; the plugin reads the hash from the environment ($env)."""
    monkeypatch.setenv("INTAKE_PASSWORD_HASH", PASSWORD_HASH["INTAKE_PASSWORD_HASH"])
    return protected_ds


@pytest.mark.parametrize("path", CONTRACT + ["/-/search?q=quy", "/-/mail/" + "0" * 64, "/-/password-tool"])
def test_every_page_is_behind_the_login(protected, path):
    response = get(protected, path)
    assert response.status_code == 302
    assert response.headers["location"] == f"/-/login?next={quote(path, safe='')}"
    assert "Đảng bộ" not in response.text


def test_after_login_staff_return_to_the_page_they_asked_for(protected):
    path = f"/-/campaign/{CAMPAIGN}/section/II.1"
    asked = get(protected, path).headers["location"]
    assert "ds_actor" not in login(protected, asked, password="sai").cookies
    wrong = visible(asyncio.run(protected.client.get(asked)).text)
    assert "Tên đăng nhập" in wrong and "không đúng" not in wrong  # nothing typed yet: no error
    response = login(protected, asked)
    assert response.status_code == 302 and response.headers["location"] == path
    cookies = {"ds_actor": response.cookies["ds_actor"]}
    assert "Mục II.1. Ưu điểm" in page(protected, path, cookies=cookies)
    assert "Đăng xuất" in page(protected, "/", cookies=cookies)
    assert login(protected, "/-/login?next=//evil.example").headers["location"] == "/"  # never another site
    assert get(protected, "/-/password-tool", cookies=cookies).status_code == 200


def test_without_a_password_there_is_no_login_and_no_error(ds):
    home = get(ds, "/").text
    assert "/-/login" not in home and "Đăng xuất" not in home
    text = page(ds, "/-/login")
    assert "không cần đăng nhập" in text and "không đúng" not in text and "Mật khẩu" not in text


PAGES = ["/", f"/-/campaign/{CAMPAIGN}", f"/-/campaign/{CAMPAIGN}?xem=chua-nop", "/-/unit/so-giao-duc",
         "/-/unit/so-y-te", f"/-/campaign/{CAMPAIGN}/section/II.1", "/-/search?q=quy+che+dan+chu",
         "/-/search?q=khong+co+gi+ca", "/-/search", "/-/login", "/-/campaign/khong-co"]


@pytest.mark.parametrize("path", PAGES)
def test_no_english_chrome_on_staff_pages(ds, path):
    text = visible(get(ds, path).text)
    found = [w for w in ENGLISH_CHROME if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text)]
    assert found == [], (path, found)


def test_no_english_chrome_when_logged_in_or_out(protected):
    response = login(protected)
    cookies = {"ds_actor": response.cookies["ds_actor"]}
    for path in ("/", "/-/logout", "/-/login?next=%2F"):
        text = visible(get(protected, path, cookies=cookies if path != "/-/login?next=%2F" else None).text)
        found = [w for w in ENGLISH_CHROME if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text)]
        assert found == [], (path, found)
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in visible(login(protected, password="sai").text)


def test_tab_titles_are_vietnamese(ds):
    for path, title in [("/", "Trang chủ"), (f"/-/campaign/{CAMPAIGN}", "Sơ kết 01 năm"),
                        ("/-/unit/so-noi-vu", "Đảng bộ Sở Nội vụ"), ("/-/search?q=dang+uy", "Tìm kiếm: dang uy")]:
        assert re.search(rf"<title>{re.escape(title)}[^<]*</title>", get(ds, path).text), path


# ---- downloads ------------------------------------------------------------------------------------------

def test_summary_docx_has_every_units_text_under_every_section_and_the_annex(ds, campaign):
    import docx

    response = get(ds, f"/-/campaign/{CAMPAIGN}/summary.docx")
    assert response.headers["content-disposition"].startswith("attachment;")
    doc = docx.Document(io.BytesIO(response.content))
    paragraphs = [(p.style.name, p.text) for p in doc.paragraphs]
    headings = [t for s, t in paragraphs if s.startswith("Heading")]
    assert headings[:2] == ["I. TÌNH HÌNH VÀ KẾT QUẢ TRIỂN KHAI THỰC HIỆN", "I.1. Đặc điểm tình hình"]
    assert "III. ĐỀ XUẤT, KIẾN NGHỊ" in headings
    names = [u.name for u in campaign.units]
    at = headings.index("II.1. Ưu điểm")
    start = next(i for i, (s, t) in enumerate(paragraphs) if t == "II.1. Ưu điểm")
    end = next(i for i, (s, t) in enumerate(paragraphs) if t == headings[at + 1])
    under = [t for _, t in paragraphs[start + 1:end]]
    assert [t for t in under if t in names] == names  # every unit, in roster order
    after_y_te = under[under.index("Đảng bộ Sở Y tế") + 1]
    assert after_y_te == "(không có nội dung)"
    iii = next(i for i, (s, t) in enumerate(paragraphs) if t == "III. ĐỀ XUẤT, KIẾN NGHỊ")
    texts = [t for _, t in paragraphs[iii + 1:]]
    assert texts[texts.index("Chi bộ Hội Nông dân tỉnh") + 1] == "(không có nội dung)"
    (annex,) = doc.tables
    rows = [[c.text for c in r.cells] for r in annex.rows]
    assert rows[0] == ["STT", "Đơn vị", "Tình trạng", "Thời điểm nhận", "Còn thiếu"]
    assert [r[1] for r in rows[1:]] == names
    late = next(r for r in rows if r[1] == "Chi bộ Sở Công Thương")
    assert late[2] == "Trễ hạn" and late[3] == "16/06/2022 08:40 (trễ 1 ngày 8 giờ)"
    assert late[4] == "Quy chế dân chủ của cơ quan, đơn vị"


def test_status_xlsx_has_vietnamese_headers_and_real_dates(ds):
    import openpyxl

    response = get(ds, f"/-/campaign/{CAMPAIGN}/status.xlsx")
    assert response.headers["content-disposition"].startswith("attachment;")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book["Tình trạng"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("STT", "Đơn vị", "Mã đơn vị", "Tình trạng", "Thời điểm nhận")
    by_unit = {r[2]: r for r in rows[1:]}
    assert set(by_unit) == set(EXPECTED)
    assert by_unit["so-cong-thuong"][3] == "Trễ hạn" and by_unit["so-cong-thuong"][4] == datetime(2022, 6, 16, 8, 40)
    assert sheet["E2"].number_format == "dd/mm/yyyy hh:mm"
    assert by_unit["so-y-te"][3] == "Chưa nộp (quá hạn)" and by_unit["so-y-te"][4] is None
    strays = list(book["Chưa xác định đơn vị"].iter_rows(values_only=True))
    assert len(strays) == 2 and UNATTRIBUTED["from"] in strays[1][1]


@pytest.mark.parametrize("path", ["/demo/unit_status.csv", "/demo/don_vi_chua_nop.csv?dot_bao_cao=",
                                  "/demo/sections.csv?_stream=on"])
def test_csv_starts_with_a_bom_and_downloads_as_a_file(ds, path):
    response = get(ds, path)
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] and len(rows) > 1


def test_staff_pages_on_a_database_older_than_them(tmp_path):
    """A database last opened before the staff pages (no timezone, attachments columns) still shows."""
    path = ingest_into(tmp_path, SAMPLE_INBOX / "03-so-cong-thuong-tre-han.eml", campaign_file=CAMPAIGN_FILE)
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("update campaigns set timezone = null, attachments = null")
    conn.close()
    text = page(start(path), f"/-/campaign/{CAMPAIGN}")
    assert "16/06/2022 08:40" in text and "quy_che_dan_chu" in text  # no title known: the id, not an error


def test_logging_out_says_so_in_vietnamese(protected):
    cookies = {"ds_actor": login(protected).cookies["ds_actor"]}
    home = get(protected, "/", cookies=cookies)
    token = re.search(r'<form class="intake-logout"[^>]*>\s*<input type="hidden" name="csrftoken" value="([^"]+)"',
                      home.text).group(1)
    out = asyncio.run(protected.client.post("/-/logout", data={"csrftoken": token},
                                            cookies={**cookies, "ds_csrftoken": home.cookies["ds_csrftoken"]}))
    assert out.status_code == 302
    text = page(protected, "/-/login?next=%2F", cookies={"ds_messages": out.cookies["ds_messages"]})
    assert "Bạn đã đăng xuất." in text and "logged out" not in text
