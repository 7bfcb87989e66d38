"""File sources known by their bytes (issue 21): a file rewritten under the same name, an mbox
rewritten with other mails, and a mail still being written when intake reads it."""

from __future__ import annotations

import json
import os
import time

from pipeline.sources import RawMail, SourceError, iter_mail, looks_complete
from pipeline.store import open_db
from tests.conftest import SAMPLE_INBOX
from tests.fixtures.make_sample_inbox import NOW

SAMPLE = {p.name[:2]: p.read_bytes() for p in sorted(SAMPLE_INBOX.glob("*.eml"))}


def _status(run_cli, unit: str) -> str:
    result = run_cli("status", "--json", "--now", NOW)
    return next(s["status"] for s in json.loads(result.output) if s["unit"] == unit)


def _mbox(*mails: bytes) -> bytes:
    return b"".join(b"From intake@example.vn Mon Jun 13 08:00:00 2022\n" + m.replace(b"\r\n", b"\n") + b"\n"
                    for m in mails)


def test_a_file_copied_over_one_already_ingested_is_stored(tmp_path, run_cli):
    export = tmp_path / "export" / "thu.eml"
    export.parent.mkdir()
    export.write_bytes(SAMPLE["08"])  # a price offer, for no campaign
    assert "1 new" in run_cli("ingest", str(export.parent)).output
    assert _status(run_cli, "so-cong-thuong") == "missing"
    export.write_bytes(SAMPLE["03"])  # the folder refreshed by hand: the same name, another mail
    result = run_cli("ingest", str(export.parent))
    assert result.output.splitlines()[0] == "1 mails seen: 1 new, 0 already stored"
    assert _status(run_cli, "so-cong-thuong") == "late"
    assert "1 already stored" in run_cli("ingest", str(export.parent)).output  # its bytes now known
    db = open_db(os.environ["INTAKE_DB"])
    assert db.execute("select count(*) from message_sources where source = ?", [f"file:{export}"]).fetchone()[0] == 2
    assert db["messages"].count == 2  # the first mail is kept: nothing received is lost


def test_an_mbox_rewritten_with_other_mails_stores_the_new_ones(tmp_path, run_cli):
    box = tmp_path / "hop-thu.mbox"
    a, b, c, d = SAMPLE["01"], SAMPLE["02"], SAMPLE["03"], SAMPLE["04"]
    box.write_bytes(_mbox(a, b, c))
    assert run_cli("ingest", str(box)).output.splitlines()[0] == "3 mails seen: 3 new, 0 already stored"
    box.write_bytes(_mbox(b, c, d))  # the oldest mail archived away: every position holds another mail
    assert run_cli("ingest", str(box)).output.splitlines()[0] == "3 mails seen: 1 new, 2 already stored"
    assert _status(run_cli, "so-xay-dung") == "on_time"  # d
    db = open_db(os.environ["INTAKE_DB"])
    assert db["raw_messages"].count == 4 and db["messages"].count == 4


def test_the_torn_last_mail_of_an_mbox_waits_for_the_next_run(tmp_path, run_cli):
    box = tmp_path / "hop-thu.mbox"
    whole = _mbox(SAMPLE["01"], SAMPLE["03"])
    torn = whole[: len(whole) - 4000]  # a mail program appending the second mail, halfway through its file
    assert not looks_complete(torn.split(b"\n\nFrom ")[1].split(b"\n", 1)[1])
    box.write_bytes(torn)
    result = run_cli("ingest", str(box))
    assert result.exit_code == 1 and result.output.splitlines()[0] == "1 mails seen: 1 new, 0 already stored"
    assert f"cannot read mbox:{box}:1: incomplete, perhaps still being written: read on the next run" in result.output
    box.write_bytes(whole)
    result = run_cli("ingest", str(box))
    assert result.exit_code == 0 and result.output.splitlines()[0] == "2 mails seen: 1 new, 1 already stored"
    assert _status(run_cli, "so-cong-thuong") == "late"
    assert open_db(os.environ["INTAKE_DB"])["raw_messages"].count == 2  # the torn half never stored


def test_a_mail_cut_short_in_a_file_nobody_writes_any_more_is_read_as_it_is(tmp_path):
    box, eml = tmp_path / "old.mbox", tmp_path / "old.eml"
    box.write_bytes(_mbox(SAMPLE["01"])[:-3000])
    eml.write_bytes(SAMPLE["03"][:-3000])
    assert [type(i) for i in iter_mail([str(box), str(eml)])] == [SourceError, SourceError]
    an_hour_ago = time.time() - 3600
    for path in (box, eml):
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert [type(i) for i in iter_mail([str(box), str(eml)])] == [RawMail, RawMail]  # nothing received is lost


def test_what_counts_as_cut_short():
    plain = b"From: a@example.vn\r\nSubject: x\r\n\r\nKinh gui"  # a body cut anywhere cannot be told
    assert looks_complete(plain) and not looks_complete(b"From: a@example.vn\r\nSubj")
    multipart = SAMPLE["01"]
    assert looks_complete(multipart) and not looks_complete(multipart[: len(multipart) // 2])
    folded = b'Content-Type: multipart/mixed;\r\n boundary="b 1"\r\n\r\n--b 1\r\nx\r\n--b 1--\r\n'
    assert looks_complete(folded) and not looks_complete(folded[:-9])
