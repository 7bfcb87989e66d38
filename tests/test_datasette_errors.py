"""Datasette as `intake serve` runs it, asked what clients get wrong (issue 21): never a 500 for a
client's mistake, Vietnamese 404 and 405 pages (Datasette's JSON errors for JSON clients), one log
line per error and never a traceback with local variables; every connection read-only, so a write
lock held by another process never makes a page wait."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from pipeline.serve import build_datasette

DB = "served"
# The requests of the chaos run that answered 500, and their kin.
CLIENT_MISTAKES = [
    ("GET", f"//{DB}/messages.json", 404), ("GET", f"/{DB}/messages?_sort=nope", 400),
    ("GET", f"/{DB}/messages.json?_sort=nope", 400), ("GET", f"/{DB}/messages?_sort_desc=nope", 400),
    ("GET", "/-/tai-ve/nope/thu?id=x", 404), ("GET", f"/-/tai-ve/{DB}/tep?id=x", 404),
    ("POST", f"/{DB}/messages/-/insert", 404), ("POST", f"/{DB}/messages/-/delete", 404),
    ("POST", f"/{DB}/messages/abc/-/delete", 404), ("GET", "/a/b/c/d/e", 404), ("GET", f"/{DB}/messages/x/y/z", 404),
    ("GET", f"/{DB}/messages?_col=nope", 400), ("GET", f"/{DB}?sql=select+nope", 400),
    ("GET", f"/{DB}/sections?_search=%22", 400), ("GET", f"/{DB}/messages?_size=abc", 400),
    ("GET", "/-/static/nope.css", 404), ("PUT", f"/{DB}/messages", 405), ("DELETE", f"/{DB}", 405),
    ("GET", "/-/campaign/nope", 404),
]


@pytest.fixture(scope="module")
def served(sample_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("errors") / f"{DB}.db"
    sample_db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(sample_db.conn.execute("PRAGMA database_list").fetchone()[2], path)
    ds = build_datasette(str(path))
    asyncio.run(ds.invoke_startup())
    return ds, path


def _request(ds, method: str, path: str):
    return asyncio.run(ds.client.request(method, path))


@pytest.mark.parametrize("method, path, status", CLIENT_MISTAKES)
def test_a_client_mistake_is_never_a_500(served, method, path, status, capfd, caplog):
    ds, _ = served
    caplog.set_level(logging.INFO, logger="intake.serve")
    response = _request(ds, method, path)
    assert response.status_code == status
    if path.split("?")[0].endswith(".json"):
        assert response.json() == {"ok": False, "error": response.json()["error"], "status": status, "title": None}
    elif "sql=" not in path:  # (a query in error shows in the SQL editor, where it can be corrected)
        assert response.headers["content-type"].startswith("text/html") and "Về trang chủ" in response.text
    assert "x-intake-answer" not in response.headers
    out, err = capfd.readouterr()
    # One line: ours (at info: a client's mistake is no error of the server's), or Datasette's own
    # "ERROR: conn=..., sql = ...: no such column" for a query in error; never a traceback.
    lines = [r.getMessage() for r in caplog.records if r.name == "intake.serve"] + err.splitlines()
    assert len(lines) == 1 and not out and all(r.levelno == logging.INFO for r in caplog.records)
    assert "Traceback" not in err and "locals" not in err


def test_the_405_page_is_in_vietnamese(served):
    ds, _ = served
    response = _request(ds, "PUT", f"/{DB}/messages")
    assert "Không thực hiện được thao tác này" in response.text and "Method not allowed" not in response.text
    assert _request(ds, "PUT", f"/{DB}/messages.json").json()["status"] == 405


def test_a_server_error_is_one_log_line_without_locals(sample_db, tmp_path, capfd, caplog):
    """A damaged file is the server's trouble, not the client's: a 500, told in one line."""
    path = tmp_path / f"{DB}.db"
    sample_db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(sample_db.conn.execute("PRAGMA database_list").fetchone()[2], path)
    conn = sqlite3.connect(path)
    root, size = conn.execute("select rootpage from sqlite_master where name = 'messages'").fetchone()[0], \
        conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xff" * size)
    ds = build_datasette(str(path))
    asyncio.run(ds.invoke_startup())
    caplog.set_level(logging.INFO, logger="intake.serve")
    response = _request(ds, "GET", f"/{DB}/messages")
    assert response.status_code == 500 and "Đã có lỗi" in response.text and "malformed" not in response.text
    [line] = [r for r in caplog.records if r.name == "intake.serve"]
    assert line.levelno == logging.ERROR and "database disk image is malformed" in line.getMessage()
    assert "\n" not in line.getMessage() and line.exc_info is None
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "locals" not in out + err


def test_pages_never_wait_on_a_write_lock_and_never_open_one(served):
    ds, path = served
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                               f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
                               "c.execute('begin immediate'); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        for page in ("/", f"/{DB}/unit_status", f"/{DB}/messages.json", "/-/campaign/nq03-2022"):
            assert _request(ds, "GET", page).status_code == 200
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert ds.databases[DB]._write_connection is None  # Datasette never opened the file to write
