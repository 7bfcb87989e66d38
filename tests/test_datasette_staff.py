"""What office staff get in Datasette, configured exactly as `intake serve` runs it (serve.datasette_options):
canned queries, search with and without diacritics, downloads, escaping, login."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import sqlite3
from datetime import datetime

import pytest

from pipeline.serve import build_datasette
from pipeline.staff.downloads import content_disposition
from tests.conftest import CAMPAIGN_FILE, SAMPLE_INBOX
from tests.fixtures._docx_util import zip_bytes
from tests.fixtures.mail import VN, build_mail
from tests.fixtures.make_sample_inbox import EXPECTED

PASSWORD = "mật-khẩu-thử 123"


def served_copy(db, path) -> str:
    db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(db.conn.execute("PRAGMA database_list").fetchone()[2], path)
    return str(path)


def start(path: str, **kwargs):
    ds = build_datasette(path, **kwargs)
    asyncio.run(ds.invoke_startup())
    return ds


def get(ds, path: str, **kwargs):
    return asyncio.run(ds.client.get(path, **kwargs))


def rows(ds, query: str, **params) -> list[dict]:
    response = get(ds, f"/demo/{query}.json", params={"_shape": "array", **params})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def ds(sample_db, tmp_path_factory):
    return start(served_copy(sample_db, tmp_path_factory.mktemp("staff") / "demo.db"), env={})


def ingest_into(tmp_path, *sources, campaign_file=CAMPAIGN_FILE) -> str:
    from pipeline.flow import ingest
    from pipeline.store import open_db
    from rules.campaign import load_campaign

    path = tmp_path / "demo.db"
    db = open_db(str(path))
    ingest(db, [str(s) for s in sources], [load_campaign(campaign_file)])
    db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    return str(path)


# ---- canned queries on the sample inbox (every deadline in it is in the past)

def test_units_not_yet_submitted(ds, tmp_path):
    never_sent = {u for u, e in EXPECTED.items() if e["status"] == "missing"}
    assert {r["Mã đơn vị"] for r in rows(ds, "don_vi_chua_nop", dot_bao_cao="")} == never_sent == {"so-y-te"}
    one = ingest_into(tmp_path, SAMPLE_INBOX / "01-so-noi-vu-dung-han.eml")
    missing = rows(start(one, env={}), "don_vi_chua_nop", dot_bao_cao="nq03-2022")
    assert {r["Mã đơn vị"] for r in missing} == set(EXPECTED) - {"so-noi-vu"}
    assert {r["Tình trạng"] for r in missing} == {"Chưa nộp (quá hạn)"}


def test_closed_campaigns_are_left_out_unless_asked_for(tmp_path):
    import yaml

    data = yaml.safe_load(CAMPAIGN_FILE.read_text(encoding="utf-8")) | {"closed": True}
    closed = tmp_path / "closed.yml"
    closed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    ds = start(ingest_into(tmp_path, SAMPLE_INBOX / "01-so-noi-vu-dung-han.eml", campaign_file=closed), env={})
    assert rows(ds, "don_vi_chua_nop", dot_bao_cao="") == []  # "every round" means every open round
    asked = rows(ds, "don_vi_chua_nop", dot_bao_cao="nq03-2022")
    assert {r["Mã đơn vị"] for r in asked} == set(EXPECTED) - {"so-noi-vu"}
    assert rows(ds, "thieu_muc", dot_bao_cao="") == [] and rows(ds, "thieu_tai_lieu", dot_bao_cao="") == []
    assert get(ds, "/demo/campaigns.json?_shape=array").json()[0]["closed"] == 1


def test_dashboard_counts_open_campaigns_only(sample_db, tmp_path):
    """The charts' SQL as datasette-dashboards runs it with no round chosen ([[...]] dropped)."""
    import sqlite3

    import yaml

    from pipeline.serve import metadata_for

    data = yaml.safe_load(CAMPAIGN_FILE.read_text(encoding="utf-8")) | {"closed": True}
    closed = tmp_path / "closed.yml"
    closed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (tmp_path / "closed").mkdir()
    paths = {"open": served_copy(sample_db, tmp_path / "demo.db"),
             "closed": ingest_into(tmp_path / "closed", *sorted(SAMPLE_INBOX.glob("*.eml")), campaign_file=closed)}
    dashboard = metadata_for(paths["open"])["plugins"]["datasette-dashboards"]["tinh-hinh-nop-bao-cao"]
    for state, path in paths.items():
        with sqlite3.connect(path) as conn:
            counts = {name: conn.execute(re.sub(r"\[\[.*?\]\]", "", chart["query"], flags=re.S)).fetchall()
                      for name, chart in dashboard["charts"].items()}
            rounds = conn.execute(dashboard["filters"]["dot"]["query"]).fetchall()
        conn.close()
        if state == "open":
            submitted = sum(e["status"] in ("on_time", "late") for e in EXPECTED.values())
            assert counts["da-nop"] == [(submitted,)] and rounds == [("nq03-2022",)]
            # The report nobody could attribute is no unit's: not a bar of the daily chart either.
            assert sum(1 for _ in counts["theo-ngay"]) == submitted
        else:
            assert all(rows in ([], [(0,)]) for rows in counts.values()), counts
            assert rounds == []


def test_late_submissions(ds):
    late = rows(ds, "nop_tre_han", dot_bao_cao="")
    assert [r["Mã đơn vị"] for r in late] == [u for u, e in EXPECTED.items() if e["status"] == "late"]
    assert late[0]["Số giờ trễ"] > 0


def test_missing_attachments(ds):
    got = {(r["Mã đơn vị"], r["Mã tài liệu"]) for r in rows(ds, "thieu_tai_lieu", dot_bao_cao="nq03-2022")}
    assert got == {(u, a) for u, e in EXPECTED.items() for a in e["missing_attachments"]}


def test_missing_or_empty_sections(ds):
    got = {(r["Mã đơn vị"], r["Mục"], r["Tình trạng"]) for r in rows(ds, "thieu_muc", dot_bao_cao="")}
    # Headings whose text is in their subsections (I, II) are not "empty".
    assert got == {(u, k, "Thiếu") for u, e in EXPECTED.items() for k in e["missing_sections"]}


def test_one_section_across_units(ds):
    got = rows(ds, "mot_muc_cac_don_vi", dot_bao_cao="nq03-2022", muc="II.2")
    units_without = {u for u, e in EXPECTED.items() if "II" in e["missing_sections"] or e["status"] == "missing"}
    assert len(got) == len(EXPECTED) - len(units_without)  # current report only: no duplicate mail
    assert all(r["Mục"] == "II.2" and r["Nội dung"] for r in got)
    with_children = rows(ds, "mot_muc_cac_don_vi", dot_bao_cao="nq03-2022", muc="II")
    assert {r["Mục"] for r in with_children} == {"II", "II.1", "II.2", "II.3"}


def test_unattributed_mail(ds):
    got = {r["Tiêu đề"]: r for r in rows(ds, "thu_chua_ro_don_vi")}
    assert set(got) == {"Báo giá văn phòng phẩm tháng 6/2022", "Báo cáo sơ kết NQ03"}
    assert got["Báo giá văn phòng phẩm tháng 6/2022"]["Lưu ý"] == "Không thuộc đợt báo cáo nào"
    assert got["Báo cáo sơ kết NQ03"]["Lưu ý"] == "Chưa xác định được đơn vị gửi"


def test_processing_errors(ds, tmp_path, settings_env):
    assert rows(ds, "loi_xu_ly") == []
    broken = tmp_path / "broken.eml"
    broken.write_bytes(build_mail(sender="dangbo@snv.example.vn", sender_name="Đảng ủy Sở Nội vụ",
                                  subject="Báo cáo sơ kết NQ03", received=datetime(2022, 6, 10, 9, 0, tzinfo=VN),
                                  attachments=[("Báo cáo sơ kết NQ03.docx", b"PK\x03\x04 not a real docx")]))
    got = rows(start(ingest_into(tmp_path, broken), env={}), "loi_xu_ly")
    assert [r["Tên tệp"] for r in got] == ["Báo cáo sơ kết NQ03.docx"] and got[0]["Chi tiết"]
    (tmp_path / "big").mkdir()
    settings_env(INTAKE_MAX_MAIL_MB="0.001")  # every mail is "too large": one row each, no file row
    got = rows(start(ingest_into(tmp_path / "big", broken), env={}), "loi_xu_ly")
    assert [(r["Mã lỗi"], r["Loại lỗi"], r["Tên tệp"], r["Tiêu đề"]) for r in got] == [
        ("too_large", "Quá lớn, chưa mở", None, "Báo cáo sơ kết NQ03")]


# ---- search

@pytest.mark.parametrize("query", ["quy che dan chu", "quy chế dân chủ", "dang uy", "Đảng ủy", "hoà", "hòa",
                                   "03-NQ/ĐUK"])
def test_search_with_and_without_diacritics(ds, query):
    found = rows(ds, "tim_trong_noi_dung", tu_khoa=query)
    assert found, query
    folded = {"quy che dan chu": "quy chế dân chủ", "dang uy": "đảng ủy", "hoà": "hóa", "hòa": "hóa"}
    want = folded.get(query, query).casefold()
    assert all(want in (r["Nội dung"] + " " + r["Tiêu đề mục"]).casefold() or query == "hoà" or query == "hòa"
               for r in found)
    # The table's own search box (FTS5, unicode61 remove_diacritics 2 + text_folded) agrees.
    table = get(ds, "/demo/sections.json", params={"_search": query, "_shape": "array"})
    assert table.status_code == 200 and table.json(), query


def test_search_both_tone_placements_find_the_same_rows(ds):
    # "hoà" (old placement) and "hòa" (new) must find the same sections, both in the canned query and in FTS.
    old, new = rows(ds, "tim_trong_noi_dung", tu_khoa="hoà"), rows(ds, "tim_trong_noi_dung", tu_khoa="hòa")
    assert old == new and old
    fts = [get(ds, "/demo/sections.json", params={"_search": q, "_shape": "array"}).json() for q in ("hoà", "hòa")]
    assert fts[0] == fts[1] and fts[0]


# ---- downloads and escaping

def test_attachment_and_raw_mail_download_as_attachments(ds):
    page = get(ds, "/demo/attachments").text
    links = re.findall(r'href="(/-/tai-ve/demo/tep\?id=[^"]+)"', page)
    assert links
    response = get(ds, links[0].replace("&amp;", "&"))
    assert response.status_code == 200 and response.content[:2] in (b"PK", b"%P")
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"] == "application/octet-stream"

    page = get(ds, "/demo/messages").text
    links = re.findall(r'href="(/-/tai-ve/demo/thu\?id=[0-9a-f]{64})"', page)
    assert links
    response = get(ds, links[0])
    assert response.status_code == 200 and b"Received:" in response.content
    assert response.headers["content-disposition"].startswith("attachment;")
    assert ".eml" in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_kind_of_attachment_downloads_from_its_raw_mail(tmp_path):
    """The database keeps a file only inside its raw mail: a download finds it again where deriving
    did, byte for byte, whatever held it (a zip in a zip, a .msg attached as a file, a forwarded
    message/rfc822, a uuencoded file in a plain body, winmail.dat, a stored .msg mail)."""
    from tests.fixtures.outlook import File, Item, build_msg
    from tests.fixtures.tnef import build_tnef
    from tests.test_mime_quirks import plain, uuencode
    from tests.test_readers import docx_bytes

    report, quy_che = docx_bytes("BÁO CÁO", "I. TÌNH HÌNH", "Nội dung."), docx_bytes("QUY CHẾ DÂN CHỦ")
    nested = zip_bytes({"Báo cáo.docx": report, "phu-luc/ho-so.zip": zip_bytes({"Quy chế.docx": quy_che})})
    item = Item(subject="Báo cáo NQ03", sender=("Văn thư", "vanthu@stc.example.vn"), body="Gửi kèm.",
                delivered=datetime(2022, 6, 10, 9, 0, tzinfo=VN), attachments=[File("Công văn.pdf", b"%PDF-1.4 cv")])

    def sent(day: int, hour: int, **kwargs) -> bytes:
        return build_mail(sender="dangbo@snv.example.vn", sender_name="Đảng ủy Sở Nội vụ",
                          subject="Báo cáo sơ kết NQ03", received=datetime(2022, 6, day, hour, tzinfo=VN), **kwargs)

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n, raw in enumerate([
            sent(10, 9, attachments=[("Hồ sơ.zip", nested)]),
            sent(10, 10, attachments=[("Thư gốc.msg", build_msg(item))]),
            sent(10, 11, forward_of=sent(9, 9, attachments=[("Quyết định.pdf", b"%PDF-1.4 qd")])),
            plain("Kính gửi,\n\n" + uuencode("Bao cao.docx", report) + "\n"),
            sent(10, 12, attachments=[("winmail.dat", build_tnef([("Phụ lục.pdf", b"%PDF-1.4 pl")]))])]):
        (inbox / f"{n}.eml").write_bytes(raw)
    (inbox / "5.msg").write_bytes(build_msg(item))
    path = ingest_into(tmp_path, inbox)
    ds = start(path, env={})
    files = get(ds, "/demo/attachments.json", params={"_shape": "array", "_size": "max"}).json()
    assert {f["origin"] for f in files} == {"mime", "zip", "forwarded", "uuencode", "tnef"}
    assert "2/phu-luc/ho-so.zip/Quy chế.docx" in {f["part"] for f in files}  # a member of the zip in the zip
    want = {"Báo cáo.docx": report, "Quy chế.docx": quy_che, "Hồ sơ.zip": nested, "Công văn.pdf": b"%PDF-1.4 cv",
            "Quyết định.pdf": b"%PDF-1.4 qd", "Bao cao.docx": report, "Phụ lục.pdf": b"%PDF-1.4 pl"}
    for f in files:
        response = get(ds, "/-/tai-ve/demo/tep", params={"id": f["id"]})
        assert response.status_code == 200, f
        assert hashlib.sha256(response.content).hexdigest() == f["sha256"]
        assert want.get(f["filename"], response.content) == response.content, f["filename"]
        assert response.headers["content-disposition"] == content_disposition(f["filename"])
        assert response.headers["content-type"] == "application/octet-stream"
    assert want.keys() <= {f["filename"] for f in files}

    unknown = get(ds, "/-/tai-ve/demo/tep", params={"id": files[0]["message"] + ":9"})
    assert unknown.status_code == 404 and "Không tìm thấy tệp đính kèm" in unknown.text
    conn = sqlite3.connect(path)
    with conn:  # the bytes found in the mail are no longer those derived
        conn.execute("update attachments set sha256 = ? where id = ?", ["0" * 64, files[0]["id"]])
    conn.close()
    changed = get(ds, "/-/tai-ve/demo/tep", params={"id": files[0]["id"]})
    assert changed.status_code == 404 and "không còn đọc được từ thư gốc" in changed.text


def test_datasette_blob_renderer_also_downloads(ds):
    sha = rows(ds, "raw_messages", _col="sha256")[0]["sha256"]
    response = get(ds, f"/demo/raw_messages/{sha}.blob", params={"_blob_column": "raw"})
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_script_in_subject_and_file_name_is_escaped(tmp_path):
    evil = tmp_path / "evil.eml"
    evil.write_bytes(build_mail(sender="dangbo@snv.example.vn", sender_name="<script>alert(2)</script>",
                                subject="<script>alert(1)</script> Báo cáo NQ03",
                                received=datetime(2022, 6, 10, 9, 0, tzinfo=VN),
                                attachments=[("<script>alert(3)<script>.docx", b"not a docx")]))
    ds = start(ingest_into(tmp_path, evil), env={})
    for path in ("/demo/messages", "/demo/attachments", "/demo/documents", "/demo/thu_chua_ro_don_vi",
                 "/demo/loi_xu_ly"):
        html = get(ds, path).text
        assert "<script>alert" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in get(ds, "/demo/messages").text
    assert "&lt;script&gt;alert(3)&lt;script&gt;" in get(ds, "/demo/attachments").text  # "/" is cut by MIME
    link = re.search(r'href="(/-/tai-ve/demo/tep\?id=[^"]+)"', get(ds, "/demo/attachments").text).group(1)
    disposition = get(ds, link.replace("&amp;", "&")).headers["content-disposition"]
    assert "<" not in disposition and disposition.startswith("attachment;")


# ---- access

def test_sql_stays_read_only_and_staff_decisions_are_the_only_writes(ds):
    """Nothing writes through Datasette but the staff decisions, POST /-/decide (tests/test_decide_web.py):
    no write plugin, arbitrary SQL refused, no canned query that writes, no whole-database download."""
    names = {p["name"] for p in get(ds, "/-/plugins.json").json()}
    assert names <= {"datasette-auth-passwords", "datasette-dashboards", "datasette-leaflet",
                     "datasette-render-markdown", "intake_datasette.py", "intake_staff.py", "intake_access.py",
                     "intake_csv.py"}, names
    before = rows(ds, "decisions"), rows(ds, "submissions")
    for sql in ("insert into decisions (campaign, kind, target) values ('x', 'exempt', 'so-y-te')",
                "update submissions set status = 'late'", "delete from messages", "drop table decisions",
                "select 1; delete from decisions"):
        assert get(ds, "/demo.json", params={"sql": sql}).status_code == 400, sql
    assert (rows(ds, "decisions"), rows(ds, "submissions")) == before
    queries = next(iter(ds.metadata()["databases"].values()))["queries"]
    assert not any(q.get("write") for q in queries.values())
    assert get(ds, "/demo.db").status_code == 403


def test_dashboard_page(ds):
    page = get(ds, "/-/dashboards/tinh-hinh-nop-bao-cao")
    assert page.status_code == 200 and "Bảng theo dõi nộp báo cáo" in page.text
    assert "https://cdn" not in page.text and "unpkg.com" not in page.text and "jsdelivr" not in page.text


def test_warning_banner_only_beyond_loopback(sample_db, tmp_path):
    path = served_copy(sample_db, tmp_path / "demo.db")
    assert "intake-exposed" not in get(start(path, env={}), "/").text
    assert "intake-exposed" in get(start(path, host="0.0.0.0", env={}), "/").text


def login(ds, username: str, password: str):
    form = get(ds, "/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', form.text).group(1)
    cookies = {"ds_csrftoken": form.cookies["ds_csrftoken"]}
    return asyncio.run(ds.client.post("/-/login", data={"username": username, "password": password,
                                                        "csrftoken": token}, cookies=cookies))


def test_anonymous_refused_and_staff_allowed_with_a_password(sample_db, tmp_path):
    from datasette_auth_passwords.utils import hash_password

    env = {"INTAKE_PASSWORD_HASH": hash_password(PASSWORD, iterations=1000)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTAKE_PASSWORD_HASH", env["INTAKE_PASSWORD_HASH"])  # read by the plugin ($env)
        ds = start(served_copy(sample_db, tmp_path / "demo.db"), env=env)
        for path in ("/", "/demo", "/demo/unit_status", "/demo/don_vi_chua_nop?dot_bao_cao=",
                     "/-/dashboards/tinh-hinh-nop-bao-cao", "/demo/attachments"):
            response = get(ds, path)
            assert response.status_code in (302, 403), path
            assert "Tình trạng" not in response.text
        assert get(ds, "/").headers["location"] == "/-/login?next=%2F"
        for path in ("/demo/unit_status.json", "/-/metadata.json", "/demo/raw_messages.json"):
            assert get(ds, path).status_code == 403, path
        assert get(ds, "/-/login").status_code == 200 and "Đăng nhập" in get(ds, "/-/login").text

        assert "ds_actor" not in login(ds, "vanphong", "sai").cookies
        response = login(ds, "vanphong", PASSWORD)
        assert response.status_code == 302
        cookies = {"ds_actor": response.cookies["ds_actor"]}
        page = get(ds, "/demo/unit_status", cookies=cookies)
        assert page.status_code == 200 and "Tình trạng nộp báo cáo" in page.text
        assert get(ds, "/-/dashboards/tinh-hinh-nop-bao-cao", cookies=cookies).status_code == 200
        assert len(get(ds, "/demo/unit_status.json?_shape=array", cookies=cookies).json()) == len(EXPECTED)
        unattributed = get(ds, "/demo/unattributed_submissions.json?_shape=array", cookies=cookies).json()
        assert unattributed[0]["status"] == "on_time"
        assert env["INTAKE_PASSWORD_HASH"] not in get(ds, "/-/metadata.json", cookies=cookies).text
