"""Parallel deriving (pipeline/workers.py): the same rows as one process, in the same order, and a
mail that breaks its worker becomes a flag while the batch goes on."""

from __future__ import annotations

import hashlib
import os
import random
from datetime import datetime

import pytest

from pipeline import workers as pool
from pipeline.flow import ingest
from pipeline.settings import SettingError, load
from pipeline.store import open_db
from pipeline.workers import SpooledMail, default_workers
from rules.campaign import load_campaign
from tests.conftest import CAMPAIGN_FILE, SAMPLE_INBOX
from tests.fixtures.mail import VN, build_mail

DERIVED = {"messages": "id", "attachments": "id", "documents": "id", "sections": "id", "flags": "id",
           "raw_messages": "sha256"}
TIMESTAMPS = {"derived_at", "stored_at"}


def _rows(db) -> dict[str, list[tuple]]:
    out = {}
    for table, key in DERIVED.items():
        cols = [c.name for c in db[table].columns if c.name not in TIMESTAMPS]
        out[table] = [tuple(r) for r in db.execute(f"select {', '.join(cols)} from [{table}] order by [{key}]")]
    return out


def test_two_workers_write_exactly_the_rows_of_one(tmp_path, run_cli):
    one, two = open_db(str(tmp_path / "one.db")), open_db(str(tmp_path / "two.db"))
    campaigns = [load_campaign(CAMPAIGN_FILE)]
    ingest(one, [str(SAMPLE_INBOX)], campaigns, workers=1)
    ingest(two, [str(SAMPLE_INBOX)], campaigns, workers=2)
    a, b = _rows(one), _rows(two)
    assert a["messages"] and a["sections"] and a["flags"]
    assert a == b  # flag ids included: rows are written in source order whatever finishes first
    # the CLI option reaches the same code
    result = run_cli("ingest", "--workers", "2", str(SAMPLE_INBOX))
    assert result.exit_code == 0 and f"{len(list(SAMPLE_INBOX.glob('*.eml')))} new" in result.output


def test_workers_setting(monkeypatch, run_cli):
    assert load({"INTAKE_WORKERS": "3"}).workers == 3
    with pytest.raises(SettingError, match="INTAKE_WORKERS"):
        load({"INTAKE_WORKERS": "many"})
    assert load({}).workers is None and default_workers() == len(os.sched_getaffinity(0))
    result = run_cli("ingest", "--workers", "0", str(SAMPLE_INBOX))
    assert result.exit_code == 2 and "at least 1" in result.output
    monkeypatch.setenv("INTAKE_WORKERS", "two")
    for command in (["ingest", str(SAMPLE_INBOX)], ["reprocess"]):  # reprocess used to end in a traceback
        result = run_cli(*command)
        assert result.exit_code == 2 and result.output.strip().splitlines() == [
            "Error: INTAKE_WORKERS must be a whole number of processes, at least 1, not 'two'"]


def test_a_big_mail_goes_to_its_worker_in_a_spool_file_that_is_removed(tmp_path, monkeypatch):
    recording = random.Random(1).randbytes(3 * 1024 * 1024)  # above SPOOL_MIN_BYTES
    mail = build_mail(sender="vanthu@dv1.example.vn", sender_name="Đơn vị 1", subject="Báo cáo kèm ghi âm",
                      received=datetime(2022, 6, 10, 9, 0, tzinfo=VN), attachments=[("Ghi am.mp3", recording)])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "big.eml").write_bytes(mail)
    spooled, sent = pool._spooled, []
    monkeypatch.setattr(pool, "_spooled", lambda data, spool: sent.append(spooled(data, spool)) or sent[-1])
    rows = []
    for workers in (1, 2):
        folder = tmp_path / str(workers)
        folder.mkdir()
        db = open_db(str(folder / "intake.db"))
        ingest(db, [str(tmp_path / "in")], [load_campaign(CAMPAIGN_FILE)], workers=workers)
        rows.append(_rows(db))
        assert db.execute("select sha256, size from attachments").fetchall() == [
            (hashlib.sha256(recording).hexdigest(), len(recording))]
        db.close()
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".intake-spool-")]
    assert rows[0] == rows[1] and [type(s) for s in sent] == [SpooledMail]  # one worker: no pool, no spool


# A campaign whose call-letter Message-ID trips when a mail replies to it: in the worker, while the
# campaign is matched against that mail (set intersection compares equal hashes with __eq__).
# Through the public API, no hook in the product: one tripwire raises, the other kills the worker.
class Tripwire(str):
    def __hash__(self) -> int:
        return str.__hash__(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str) and str.__eq__(self, other):
            if "crash" in self:
                os._exit(3)  # like a segfault in a native library: the worker process is gone
            raise RuntimeError("tripwire: deriving this mail fails")
        return False


def _mail(n: int, reply_to: str | None = None) -> bytes:
    raw = build_mail(sender=f"vanthu{n}@donvi.example.vn", sender_name="Văn thư", subject=f"Thư số {n}",
                     received=datetime(2022, 6, 1, 8, n, tzinfo=VN), body=f"Nội dung thư số {n}.",
                     attachments=[("ghi-chu.txt", f"ghi chú {n}".encode())])
    if reply_to:
        raw = f"In-Reply-To: {reply_to}\r\n".encode() + raw
    return raw


@pytest.mark.parametrize("workers", [1, 2])
def test_a_mail_that_breaks_deriving_is_flagged_and_the_batch_goes_on(tmp_path, db, workers):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    crash = workers > 1  # killing the only process would kill the test: one worker raises instead
    for n in range(8):
        reply = {2: "<tripwire-raise@x>", 5: "<tripwire-crash@x>" if crash else None}.get(n)
        (inbox / f"{n:02}.eml").write_bytes(_mail(n, reply))
    campaign = load_campaign(CAMPAIGN_FILE)
    campaign.thread_ids = [Tripwire("tripwire-raise@x"), Tripwire("tripwire-crash@x")]
    report = ingest(db, [str(inbox)], [campaign], workers=workers)
    assert report.new == 8 and db["messages"].count == 8
    details = [r[0] for r in db.execute("select detail from flags where kind = 'processing_error' order by id")]
    assert len(details) == (2 if crash else 1) == report.processing_errors
    assert "RuntimeError: tripwire" in details[0]
    if crash:
        assert "worker process" in details[1]
    # every other mail was derived, the ones in flight when the worker died included
    derived = {r[0] for r in db.execute("select subject from messages where subject is not null")}
    assert derived == {f"Thư số {n}" for n in range(8)} - ({"Thư số 2", "Thư số 5"} if crash else {"Thư số 2"})
