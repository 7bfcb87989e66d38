"""`intake` run as the separate process it is in production, for the tests that kill it, race it,
fill its disk or lock its database: starting it, finding its whole process tree, and reading what it
left in the database as rows that two runs can be compared by."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import corpus
from tests.conftest import CAMPAIGN_FILE, ROOT

# Columns that say when, not what: they differ between two runs that derived the same thing.
TIMESTAMPS = {"derived_at", "stored_at", "seen_at", "computed_at"}
# Per-mail tables and the column naming the mail.
PER_MAIL = {"messages": "id", "attachments": "message", "documents": "message", "sections": "message",
            "flags": "message"}
# Numbered in the order rows were written: which run wrote which row first is not the point.
COUNTERS = {"flags": {"id"}}


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without the developer's INTAKE_* settings, plus `settings`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | settings


def start(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    proc = start(*args, env=env)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def ingested_mbox(root: Path, n_mails: int) -> dict[str, Path]:
    """An mbox of `n_mails` benchmark mails in `root`, its campaign files, and the database of a
    clean ingest of it (the rows a run that was disturbed must end with)."""
    mbox = corpus.write_mbox(root / "hop-thu.mbox", n_mails, n_campaigns=1)
    rules = corpus.write_rules(CAMPAIGN_FILE, root / "rules", corpus.campaigns(CAMPAIGN_FILE, n_campaigns=1))
    clean = root / "clean.db"
    result = run("ingest", str(mbox), env=environment(INTAKE_DB=str(clean), INTAKE_RULES=str(rules)))
    assert result.returncode == 0, result.stderr
    return {"mbox": mbox, "rules": rules, "clean": clean}


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it runs no more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def count(db_path: Path, sql: str) -> int:
    """One number read from the database without waiting on a writer (0 while it is not there yet)."""
    if not db_path.exists():
        return 0
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # no such table yet
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    skip = TIMESTAMPS | COUNTERS.get(table, set())
    return [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])") if r[1] not in skip]


def rows(db_path: Path, tables: tuple[str, ...] = ("raw_messages", "message_sources", *PER_MAIL,
                                                 "submissions")) -> dict[str, list[tuple]]:
    """Every row of `tables`, sorted, without the columns that only say when."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return {t: sorted(conn.execute(f"select {', '.join(_columns(conn, t))} from [{t}]").fetchall(), key=repr)
                for t in tables}
    finally:
        conn.close()


def per_mail(db_path: Path) -> dict[str, dict[str, list[tuple]]]:
    """Each derived mail's rows, table by table (a mail with no messages row is not derived)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        mails: dict[str, dict[str, list[tuple]]] = {}
        for table, key in PER_MAIL.items():
            columns = _columns(conn, table)
            for row in conn.execute(f"select [{key}], {', '.join(columns)} from [{table}]"):
                mails.setdefault(row[0], {t: [] for t in PER_MAIL})[table].append(row[1:])
        return {m: {t: sorted(r, key=repr) for t, r in tables.items()} for m, tables in mails.items()}
    finally:
        conn.close()
