"""A full disk and a damaged database are conditions, not crashes (issue 21): one line, exit 1 for a
full disk (and the next run completes what was left), exit 2 with the way out for a damaged file,
whichever command meets them."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from benchmarks import corpus
from tests.conftest import CAMPAIGN_FILE, SAMPLE_INBOX
from tests.processes import count, environment, ingested_mbox, rows, run
from tests.test_imap import _append, _env

MAILS = 30


class SmallDisk:
    """A tmpfs of a few MB (mounting needs root or CAP_SYS_ADMIN), made bigger to free space."""

    def __init__(self, path: Path, size: str):
        self.path = path
        path.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "intake-test", str(path)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"a full disk is tested on a small tmpfs, and mounting one is not allowed here "
                        f"({mounted.stderr.strip() or 'mount failed'})")

    def grow(self, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    disk = SmallDisk(tmp_path / "disk", "1m")
    yield disk
    disk.unmount()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    return ingested_mbox(tmp_path_factory.mktemp("full"), MAILS)


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_full_disk_stops_ingest_in_one_line_and_the_next_run_completes(inbox, small_disk):
    db = small_disk.path / "intake.db"
    env = environment(INTAKE_DB=str(db), INTAKE_RULES=str(inbox["rules"]), INTAKE_WORKERS="1")
    full = run("ingest", str(inbox["mbox"]), env=env)
    stored = count(db, "select count(*) from raw_messages")
    assert full.returncode == 1 and 0 < stored < MAILS
    assert _one_line(full) == f"Error: disk full: {stored} mails stored; run again after freeing space"
    small_disk.grow("64m")
    again = run("ingest", str(inbox["mbox"]), env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == f"{MAILS} mails seen: {MAILS - stored} new, {stored} already stored"
    assert rows(db) == rows(inbox["clean"])  # every mail stored once and fully derived


def test_a_full_disk_stops_poll_in_one_line_and_the_next_run_completes(dovecot, imap_user, small_disk, inbox):
    user, pw = imap_user
    db = small_disk.path / "intake.db"
    env = environment(**_env(dovecot, user, pw, db) | {"INTAKE_RULES": str(inbox["rules"]), "INTAKE_WORKERS": "1"})
    mails = [(corpus.mail(i, 1), None) for i in range(MAILS)]
    _append(dovecot, user, pw, mails)
    full = run("poll", "--once", env=env)
    stored = count(db, "select count(*) from raw_messages")
    assert full.returncode == 1 and stored < MAILS
    assert _one_line(full) == f"Error: disk full: {stored} mails stored; run again after freeing space"
    small_disk.grow("64m")
    again = run("poll", "--once", env=env)
    assert again.returncode == 0 and f"{MAILS - stored} new" in again.stdout, again.stderr
    assert count(db, "select count(*) from raw_messages") == MAILS
    assert count(db, "select count(*) from messages where complete = 1") == MAILS
    assert count(db, "select count(*) from message_sources") == MAILS  # each UID once


def _damage(db: Path, *tables: str) -> None:
    """Overwrite the first page of each table, as a disk or a copy gone wrong does."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    roots = [conn.execute("select rootpage from sqlite_master where name = ?", [t]).fetchone()[0] for t in tables]
    conn.close()
    with db.open("r+b") as f:
        for root in roots:
            f.seek((root - 1) * size)
            f.write(bytes(range(256)) * (size // 256))


def test_a_damaged_database_stops_every_command_with_the_way_out(sample_db, tmp_path):
    db = tmp_path / "intake.db"
    sample_db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(sample_db.conn.execute("PRAGMA database_list").fetchone()[2], db)
    _damage(db, "messages", "documents", "flags")
    env = environment(INTAKE_DB=str(db), INTAKE_RULES=str(CAMPAIGN_FILE))
    one = sorted(SAMPLE_INBOX.glob("*.eml"))[0]
    for args in (["status"], ["ingest", str(one)], ["reprocess"], ["alerts"], ["alerts", "--send"], ["serve"],
                 ["poll", "--once", "--host", "127.0.0.1", "--user", "u", "--ssl", "0"]):
        result = run(*args, env=dict(env, INTAKE_SMTP_HOST="127.0.0.1", INTAKE_IMAP_PASSWORD="p"), timeout=120)
        line = _one_line(result)
        assert result.returncode == 2, (args, result.stderr)
        assert line.startswith(f"Error: the database {db} is damaged (") and f'sqlite3 {db} ".recover"' in line, line
