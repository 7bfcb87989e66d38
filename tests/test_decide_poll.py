"""Staff decisions made while `intake poll` runs against a real Dovecot (tests/servers.py) and keeps
writing: every decision is recorded (no "database is locked"), every mail stored once, and the
statuses staff see, once both are done, are those the facts and the decisions give: neither the
poller's refresh nor a decision's loses the other's."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time

from pipeline.mime import parse_mail
from tests.conftest import ROOT, SAMPLE_INBOX
from tests.fixtures.make_sample_inbox import CAMPAIGN, UNATTRIBUTED
from tests.test_imap import _append, _count, _env, _mail, _poller, _wait


def _intake(env: dict, *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | env
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)


def _decide(env: dict, *args: str) -> subprocess.CompletedProcess:
    return _intake(env, "decide", *args)


def _post_exempt(db_path, unit: str) -> int:
    """A decision through the staff pages' route, in this process, while the poller writes."""
    from pipeline.serve import build_datasette

    ds = build_datasette(str(db_path), env={})

    async def post():
        await ds.invoke_startup()
        page = await ds.client.get(f"/-/campaign/{CAMPAIGN}")
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        response = await ds.client.post("/-/decide", data={
            "csrftoken": token, "kind": "exempt", "campaign": CAMPAIGN, "target": unit, "next": "/"},
            cookies={"ds_csrftoken": page.cookies["ds_csrftoken"]})
        return response.status_code

    return asyncio.run(post())


def test_decisions_while_intake_poll_runs(dovecot, imap_user, tmp_path):
    user, pw = imap_user
    db_path = tmp_path / "intake.db"
    env = {**_env(dovecot, user, pw, db_path, interval="1"), "INTAKE_WORKERS": "1"}
    files = sorted(SAMPLE_INBOX.glob("*.eml"))
    _append(dovecot, user, pw, [(f.read_bytes(), parse_mail(f.read_bytes()).received_at) for f in files])
    poller = _poller(env)
    try:
        _wait(lambda: _count(db_path, "select count(*) from submissions where unit_id is null") == 1, 90,
              "the sample inbox polled")
        stray = _count(db_path, "select id from messages where from_addr = ?", [UNATTRIBUTED["from"]])
        more = [_mail(n, "đang nhận") for n in range(40)]

        def keep_delivering():
            for n in range(0, len(more), 4):
                _append(dovecot, user, pw, more[n:n + 4])
                time.sleep(0.3)

        delivering = threading.Thread(target=keep_delivering)
        delivering.start()
        made = [_decide(env, "assign", stray, "so-y-te", "--remember-sender"),
                _decide(env, "paper", "so-cong-thuong", "--at", "2022-06-14T09:00"),
                _decide(env, "note", "so-noi-vu", "Đã gọi điện"),
                _decide(env, "exempt", "so-giao-duc")]
        posted = _post_exempt(db_path, "hoi-nong-dan")
        made.append(_decide(env, "undo", "4"))
        delivering.join()
        assert [(r.returncode, r.stderr) for r in made] == [(0, "")] * len(made)
        assert posted == 302
        total = len(files) + len(more)
        _wait(lambda: _count(db_path, "select count(*) from messages") == total, 120, "every mail derived")
        assert poller.poll() is None  # still running
    finally:
        poller.terminate()
        out, err = poller.communicate(timeout=60)
    assert poller.returncode == 0, err
    assert "locked" not in err
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("select count(*) from raw_messages").fetchone()[0] == total
        assert conn.execute("select count(*) from decisions").fetchone()[0] == 6
        decided = conn.execute("select min(at), max(at) from decisions").fetchone()
        stored = conn.execute("select min(stored_at), max(stored_at) from raw_messages r join message_sources s "
                              "on s.sha256 = r.sha256 where s.source like '%INBOX%' and r.stored_at > ?",
                              [decided[0]]).fetchone()
        assert stored[0] is not None and stored[0] <= decided[1]  # the poller stored mail while staff decided
        cached = dict(conn.execute("select unit_id, status from unit_status").fetchall())
        assert conn.execute("select count(*) from unattributed_submissions").fetchone()[0] == 0
    finally:
        conn.close()
    computed = {r["unit"]: r["status"] for r in json.loads(_intake(env, "status", "--json").stdout) if r["unit"]}
    assert cached == computed  # what staff see is what the facts and decisions give now
    assert (cached["so-y-te"], cached["so-cong-thuong"], cached["hoi-nong-dan"], cached["so-giao-duc"]) == \
        ("on_time", "on_time", "exempt", "on_time")
