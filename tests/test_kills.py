"""`kill -9` of `intake ingest` and `intake reprocess` at seeded points (issue 21), then a rerun:
every mail stored once, every mail's derived rows equal to a clean run's (timestamps aside), never
half a mail, and no process of a killed run left behind.

The chaos run that found the bugs killed `ingest` at 10 points of a 2,044-mail mbox and
`reprocess` at 12 points over 320 mails; here a seeded generator picks 6 points of each over a
240-mail mbox of the benchmark's corpus (one campaign of 40 units: .docx and PDF reports, their
quy chế, plain notes), which is enough to land kills between mails, inside one and in the repair at
start, within a minute each on 2 CPUs.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from benchmarks import corpus
from benchmarks.measure import process_tree
from tests.conftest import CAMPAIGN_FILE
from tests.processes import alive, count, environment, per_mail, rows, run, start, wait_for

MAILS = 240
KILLS = 6
SEED = 21


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The mbox, the campaign files before and after a change, and the databases of clean runs:
    ingested, and reprocessed after the change."""
    root = tmp_path_factory.mktemp("kills")
    mbox = corpus.write_mbox(root / "hop-thu.mbox", MAILS, n_campaigns=1)
    [campaign] = corpus.campaigns(CAMPAIGN_FILE, n_campaigns=1)
    rules = corpus.write_rules(CAMPAIGN_FILE, root / "rules", [campaign])
    # The campaign file corrected after ingest (its id): reprocess changes every mail's rows.
    changed = corpus.write_rules(CAMPAIGN_FILE, root / "rules-changed", [dataclasses.replace(campaign, id="bench-sua")])
    clean = root / "clean.db"
    result = run("ingest", "--workers", "2", str(mbox), env=environment(INTAKE_DB=str(clean), INTAKE_RULES=str(rules)))
    assert result.returncode == 0, result.stderr
    reprocessed = root / "reprocessed.db"
    _copy(clean, reprocessed)
    result = run("reprocess", "--workers", "2", env=environment(INTAKE_DB=str(reprocessed), INTAKE_RULES=str(changed)))
    assert result.returncode == 0, result.stderr
    return {"root": root, "mbox": mbox, "rules": rules, "changed": changed, "clean": clean, "reprocessed": reprocessed}


def _copy(source: Path, target: Path) -> None:
    conn = sqlite3.connect(source)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copy(source, target)


# Mails derived since the test began (the clean run's, copied, were derived before the mark).
DERIVED = "select count(*) from messages where derived_at > (select coalesce(max(x), '') from mark)"


def _kill_at(args: tuple[str, ...], env: dict[str, str], db: Path, written: int, delay: float) -> list[int] | None:
    """Start `intake ARGS`, kill -9 it once it has derived `written` more mails and `delay` seconds
    more have passed; returns the processes it had (the pool's workers among them), or None
    when it finished first."""
    before = count(db, DERIVED)
    proc = start(*args, env=env)
    wait_for(lambda: proc.poll() is not None or count(db, DERIVED) >= before + written, 120,
             f"{written} mails derived")
    time.sleep(delay)
    processes = process_tree(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return processes if proc.returncode == -signal.SIGKILL else None


def _mark(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("create table if not exists mark (x)")
    conn.execute("insert into mark select max(derived_at) from messages")
    conn.commit()
    conn.close()


def _killed_runs(args: tuple[str, ...], env: dict[str, str], db: Path, rng: random.Random, check) -> int:
    """KILLS runs of `intake ARGS`, each killed at a point `rng` picks: from the start (imports, the
    repair of what the last kill left) to a few dozen mails in, between mails or inside one."""
    kills = 0
    for _ in range(KILLS):
        written, delay = rng.randint(0, MAILS // (KILLS + 2)), rng.choice([0.0, rng.uniform(0.001, 0.3)])
        processes = _kill_at(args, env, db, written, delay)
        if processes is None:
            continue
        kills += 1
        # Workers die with their parent (PR_SET_PDEATHSIG): nothing keeps the database or the mbox open.
        wait_for(lambda processes=processes: not any(alive(p) for p in processes), 5,
                 "the killed run's processes to end")
        check()
    return kills


def _whole_or_absent(db: Path, *references: dict) -> None:
    """Every mail derived in `db` has exactly the rows one of the clean runs gave it: never half."""
    for mail, tables in per_mail(db).items():
        assert any(ref.get(mail) == tables for ref in references), f"mail {mail[:12]} is half derived"


def test_kill_9_of_ingest_then_a_rerun_gives_the_rows_of_a_clean_run(world):
    db = world["root"] / "ingest-killed.db"
    env = environment(INTAKE_DB=str(db), INTAKE_RULES=str(world["rules"]))
    args = ("ingest", "--workers", "2", str(world["mbox"]))
    clean = per_mail(world["clean"])
    run("ingest", "--workers", "2", os.devnull, env=env)  # the database, with nothing in it
    _mark(db)
    kills = _killed_runs(args, env, db, random.Random(SEED), lambda: _whole_or_absent(db, clean))
    result = run(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert kills == KILLS
    want, got = rows(world["clean"]), rows(db)
    assert len(got["raw_messages"]) == MAILS  # every mail stored once
    assert got == want  # and every one fully derived, statuses included


def test_kill_9_of_reprocess_leaves_each_mail_old_or_new_and_a_rerun_finishes(world):
    db = world["root"] / "reprocess-killed.db"
    _copy(world["clean"], db)
    _mark(db)
    env = environment(INTAKE_DB=str(db), INTAKE_RULES=str(world["changed"]))
    old, new = per_mail(world["clean"]), per_mail(world["reprocessed"])
    assert sum(old[m] != new[m] for m in old) >= MAILS * 3 // 4  # the change reaches (nearly) every mail
    kills = _killed_runs(("reprocess", "--workers", "2"), env, db, random.Random(SEED + 1),
                         lambda: _whole_or_absent(db, old, new))
    assert len(per_mail(db)) == MAILS  # no mail lost its rows, at any point
    result = run("reprocess", "--workers", "2", env=env)
    assert result.returncode == 0, result.stderr
    assert kills == KILLS and rows(db) == rows(world["reprocessed"])
