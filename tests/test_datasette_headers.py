"""Column headers of table, view and row pages: the Vietnamese label of metadata.yml (its description
up to the first ":"), with the SQL name kept in data-column, the title tooltip and the sort links
(pipeline/templates/_table.html and the plugin's column_label filter)."""

from __future__ import annotations

import asyncio
import re
import shutil
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from datasette.app import Datasette

from pipeline.datasette_plugins.intake_datasette import LINK_COLUMN_LABEL, label_of
from pipeline.serve import datasette_options, metadata_for

PASSWORD = "mật-khẩu-thử 456"


def served_copy(db, path) -> str:
    db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(db.conn.execute("PRAGMA database_list").fetchone()[2], path)
    return str(path)


def start(options: dict) -> Datasette:
    ds = Datasette(**options)
    asyncio.run(ds.invoke_startup())
    return ds


def get(ds, path: str, **kwargs):
    response = asyncio.run(ds.client.get(path, **kwargs))
    assert response.status_code == 200, (path, response.status_code)
    return response


class Headers(HTMLParser):
    """The <th> cells of the rows-and-columns table: attributes, visible text, link target."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headers: list[dict] = []
        self._in_table = self._th = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "rows-and-columns" in (attrs.get("class") or ""):
            self._in_table = True
        elif tag == "th" and self._in_table:
            self._th = {"attrs": attrs, "text": "", "href": None}
        elif tag == "a" and self._th is not None:
            self._th["href"] = attrs.get("href")

    def handle_endtag(self, tag):
        if tag == "th" and self._th is not None:
            self._th["text"] = " ".join(self._th["text"].replace("\xa0", " ").split()).rstrip("▲▼ ")
            self.headers.append(self._th)
            self._th = None
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data):
        if self._th is not None:
            self._th["text"] += data


def headers(html: str) -> list[dict]:
    parser = Headers()
    parser.feed(html)
    assert parser.headers, "no rows-and-columns table on the page"
    return parser.headers


def texts(html: str) -> dict[str, str]:
    """SQL name (data-column) → header text."""
    return {h["attrs"].get("data-column"): h["text"] for h in headers(html)}


def sort_target(href: str) -> str | None:
    query = parse_qs(urlsplit(href).query)
    return (query.get("_sort") or query.get("_sort_desc") or [None])[0]


@pytest.fixture(scope="module")
def db_path(sample_db, tmp_path_factory) -> str:
    return served_copy(sample_db, tmp_path_factory.mktemp("headers") / "demo.db")


@pytest.fixture(scope="module")
def ds(db_path):
    return start(datasette_options(db_path, env={}))


@pytest.fixture(scope="module")
def labels(db_path) -> dict[str, dict[str, str]]:
    """table → {SQL name: description} of metadata.yml, as served."""
    tables = metadata_for(db_path)["databases"]["demo"]["tables"]
    return {name: table.get("columns") or {} for name, table in tables.items()}


def test_label_is_the_description_up_to_the_first_colon():
    assert label_of("Tình trạng: on_time đúng hạn, late trễ hạn", "status") == "Tình trạng"
    assert label_of("Đơn vị", "unit_name") == "Đơn vị"
    assert label_of(None, "content_key") == "content_key"
    assert label_of("  : chỉ có giải thích", "x") == "x"


def test_unit_status_view_shows_vietnamese_headers(ds, labels):
    page = get(ds, "/demo/unit_status").text
    shown = texts(page)
    assert shown["unit_name"] == "Đơn vị" and shown["status"] == "Tình trạng"
    assert shown["received_at"] == "Thời điểm nhận" and shown["campaign_id"] == "Mã đợt báo cáo"
    assert shown == {name: label_of(labels["unit_status"].get(name), name) for name in shown}
    for th in headers(page):
        name = th["attrs"]["data-column"]
        assert th["attrs"]["title"] == name  # the SQL name stays available as a tooltip
        assert sort_target(th["href"]) == name  # every view column sorts, by its SQL name
    status = next(th for th in headers(page) if th["attrs"]["data-column"] == "status")
    # The whole description stays the explanation (the column menu shows data-column-description).
    assert status["attrs"]["data-column-description"].startswith("Tình trạng: on_time Đúng hạn")  # rules/vocabulary.py
    assert "?_sort=status" in status["href"]


@pytest.mark.parametrize("table, name, label", [
    ("messages", "id", "Mã thư"),  # the primary key, moved first by Datasette without its description
    ("messages", "subject", "Tiêu đề"),
    ("messages", "received_at", "Thời điểm nhận"),
    ("documents", "summary", "Trích yếu"),
    ("documents", "kind", "Loại"),
    ("sections", "key", "Mục"),
    ("sections", "heading", "Tiêu đề mục"),
])
def test_tables_show_vietnamese_headers(ds, labels, table, name, label):
    page = get(ds, f"/demo/{table}").text
    shown = texts(page)
    assert shown[name] == label
    assert shown == {column: label_of(labels[table].get(column), column) for column in shown}
    for th in headers(page):
        column = th["attrs"]["data-column"]
        assert th["attrs"]["title"] == column
        assert th["href"] is None or sort_target(th["href"]) == column  # sort links use the SQL name


def test_sorting_and_facets_still_use_sql_names(ds):
    page = get(ds, "/demo/unit_status", params={"_sort": "unit_name", "_facet": "status"}).text
    unit_name = next(th for th in headers(page) if th["attrs"]["data-column"] == "unit_name")
    assert unit_name["text"] == "Đơn vị"
    assert "_sort_desc=unit_name" in unit_name["href"]  # sorted ascending: the link reverses it
    assert re.search(r'data-column="unit_name"[^>]*>\s*<a [^>]*>Đơn vị&nbsp;▼</a>', page)
    rows = get(ds, "/demo/unit_status.json", params={"_sort": "unit_name", "_facet": "status",
                                                     "_shape": "objects"}).json()
    names = [r["unit_name"] for r in rows["rows"]]
    assert names == sorted(names) and rows["facet_results"]["status"]["results"]
    # The column menu (table.js) reads data-column, which is still the SQL name.
    assert 'data-column="status"' in page and 'class="facet-info facet-demo-unit_status-status"' in page


def test_row_page_and_link_column(ds):
    row = get(ds, "/demo/campaigns/nq03-2022").text
    assert texts(row)["deadline"] == "Hạn nộp" and texts(row)["id"] == "Mã đợt báo cáo"
    units = headers(get(ds, "/demo/units").text)
    # Datasette's own first column for a primary key of several columns ("Link")
    assert units[0]["attrs"]["data-column"] == "Link" and units[0]["text"] == LINK_COLUMN_LABEL
    assert [h["text"] for h in units[1:3]] == ["Đợt báo cáo", "Mã đơn vị"]


def test_canned_queries_keep_their_vietnamese_aliases(ds):
    page = get(ds, "/demo/nop_tre_han", params={"dot_bao_cao": ""}).text
    assert [h["text"] for h in headers(page)] == ["Đợt báo cáo", "Đơn vị", "Mã đơn vị", "Thời điểm nhận",
                                                  "Hạn nộp", "Số giờ trễ"]


def test_column_without_description_keeps_its_name_and_labels_are_escaped(db_path):
    options = datasette_options(db_path, env={})
    columns = options["metadata"]["databases"]["demo"]["tables"]["sections"]["columns"]
    del columns["position"]
    columns["heading"] = '<script>alert("x")</script> Tiêu đề: <b>giải thích</b>'
    page = get(start(options), "/demo/sections").text
    shown = texts(page)
    assert shown["position"] == "position"
    assert shown["heading"] == '<script>alert("x")</script> Tiêu đề'  # as text, once unescaped
    assert "<script>alert" not in page and "<b>giải" not in page
    assert '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Tiêu đề' in page


def test_every_label_reads_as_a_header(labels):
    # Headers do not wrap (Datasette's CSS): a long label widens its column. Explanations go after ":".
    for table, columns in labels.items():
        for name, description in columns.items():
            label = label_of(description, name)
            assert label != name and len(label) <= 24, (table, name, label)


def test_staff_see_the_labels_once_logged_in(db_path):
    from datasette_auth_passwords.utils import hash_password

    env = {"INTAKE_PASSWORD_HASH": hash_password(PASSWORD, iterations=1000)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTAKE_PASSWORD_HASH", env["INTAKE_PASSWORD_HASH"])  # read by the plugin ($env)
        ds = start(datasette_options(db_path, env=env))
        form = get(ds, "/-/login")
        token = re.search(r'name="csrftoken" value="([^"]+)"', form.text).group(1)
        response = asyncio.run(ds.client.post(
            "/-/login", data={"username": "vanphong", "password": PASSWORD, "csrftoken": token},
            cookies={"ds_csrftoken": form.cookies["ds_csrftoken"]}))
        assert response.status_code == 302
        page = get(ds, "/demo/unit_status", cookies={"ds_actor": response.cookies["ds_actor"]}).text
        assert texts(page)["status"] == "Tình trạng"


def test_statuses_are_shown_in_words_beside_their_codes(ds):
    page = get(ds, "/demo/unit_status").text
    assert "Đúng hạn <small>on_time</small>" in page and "Trễ hạn <small>late</small>" in page
    assert "Trễ hạn <small>late</small>" in get(ds, "/demo/submissions").text
    facet = get(ds, "/demo/unit_status.json?_facet=status&_shape=objects").json()
    assert {r["status"] for r in facet["rows"]} == {"on_time", "late", "missing"}  # the data keeps the codes


def test_facets_and_suggested_facets_use_the_labels(ds):
    page = get(ds, "/demo/unit_status?_facet_array=missing_attachments").text
    titles = re.findall(r'<p class="facet-info-name">\s*<strong title="([^"]+)">([^<]+?)\s*<', page)
    assert ("status", "Tình trạng") in titles and ("campaign_id", "Mã đợt báo cáo") in titles
    assert ("missing_attachments", "Tài liệu còn thiếu (từng mục)") in titles
    assert "Suggested facets" not in page and "Gợi ý nhóm theo: " in page
    assert 'title="received_at">Thời điểm nhận</a> (theo ngày)' in page
