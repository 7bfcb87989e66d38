"""The demo database through Datasette's own client, with the metadata `intake serve` uses."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from datasette.app import Datasette

from pipeline.serve import metadata_for
from tests.fixtures.make_sample_inbox import EXPECTED


@pytest.fixture(scope="module")
def datasette(sample_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("served") / "demo.db"  # any file name: metadata follows it
    sample_db.conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(sample_db.conn.execute("PRAGMA database_list").fetchone()[2], path)
    ds = Datasette([str(path)], metadata=metadata_for(str(path)))
    asyncio.run(ds.invoke_startup())
    return ds


def get(ds: Datasette, path: str):
    return asyncio.run(ds.client.get(path))


def test_statuses_are_shown_per_unit(datasette):
    rows = get(datasette, "/demo/unit_status.json?_shape=array").json()
    by_unit = {r["unit_id"]: r for r in rows}
    for unit, want in EXPECTED.items():
        # The view evaluates "now"; the sample's mails are all in, so only lateness matters.
        assert by_unit[unit]["status"] == want["status"]
    assert by_unit["so-noi-vu"]["unit_name"] == "Đảng bộ Sở Nội vụ"


def test_tables_carry_vietnamese_titles_and_raw_tables_are_hidden(datasette):
    assert "Báo cáo các đơn vị" in get(datasette, "/demo").text
    assert "Tình trạng nộp báo cáo" in get(datasette, "/demo/unit_status").text
    assert "Nội dung theo đề cương" in get(datasette, "/demo/sections").text
    tables = {t["name"]: t for t in get(datasette, "/demo.json").json()["tables"]}
    assert tables["raw_messages"]["hidden"] and tables["message_sources"]["hidden"]


def test_section_search_without_diacritics(datasette):
    rows = get(datasette, "/demo/sections.json?_search=quy+che+dan+chu&_shape=array").json()
    assert rows and all(r["key"] for r in rows)
    rows = get(datasette, "/demo/sections.json?_search=dang+uy&_shape=array").json()
    assert any("Đảng ủy" in r["text"] or "đảng ủy" in r["text"] for r in rows)
