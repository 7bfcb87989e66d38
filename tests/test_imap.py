"""Live IMAP intake against a real Dovecot on loopback (tests/servers.py): statuses, \\Seen, IDLE
across a server restart, kill -9 at random points, two pollers, UIDVALIDITY reset, move, bad login."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pipeline.flow import statuses
from pipeline.imap import Described, ImapConfigError, ImapSession, ImapSettings, UidCheckpoint, parse_actions, source_id
from pipeline.mime import parse_mail
from pipeline.poll import PollLock, PollLocked, run
from pipeline.store import open_db, save_raw
from rules.campaign import load_campaign
from tests.conftest import CAMPAIGN_FILE, ROOT, SAMPLE_INBOX
from tests.fixtures.mail import VN, build_mail
from tests.fixtures.make_sample_inbox import EXPECTED, NOW
from tests.servers import free_port


def _env(dovecot, user: str, password: str, db: Path, **extra: str) -> dict[str, str]:
    env = {"INTAKE_DB": str(db), "INTAKE_RULES": str(CAMPAIGN_FILE), "INTAKE_IMAP_HOST": dovecot.host,
           "INTAKE_IMAP_PORT": str(dovecot.port), "INTAKE_IMAP_USER": user, "INTAKE_IMAP_PASSWORD": password,
           "INTAKE_IMAP_SSL": "0"}
    env.update({f"INTAKE_IMAP_{k.upper()}": v for k, v in extra.items()})
    return env


def _poller(env: dict[str, str], *args: str) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | env
    return subprocess.Popen([sys.executable, "-m", "pipeline", "poll", *args], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _poll_once(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    p = _poller(env, "--once", *args)
    out, err = p.communicate(timeout=60)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _mail(n: int, tag: str = "") -> tuple[bytes, datetime]:
    received = datetime(2022, 6, 1, 8, 0, tzinfo=VN) + timedelta(minutes=7 * n)
    raw = build_mail(sender=f"vanthu{n % 5}@donvi.example.vn", sender_name="Văn thư", subject=f"Thư số {n} {tag}",
                     received=received, body=f"Nội dung thư số {n}.",
                     attachments=[("ghi-chu.txt", f"ghi chú {n}".encode())])
    return raw, received


def _append(dovecot, user, password, mails, folder="INBOX") -> None:
    c = dovecot.client(user, password)
    try:
        if not c.folder_exists(folder):
            c.create_folder(folder)
        for raw, when in mails:
            c.append(folder, raw, msg_time=when)
    finally:
        c.logout()


def _wait(predicate, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _count(db_path: Path, sql: str, args=()) -> int:
    """A plain read while a poller writes (open_db would also run the schema set-up)."""
    if not db_path.exists():
        return 0
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return conn.execute(sql, list(args)).fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
    finally:
        conn.close()


def _assert_exactly_once(db_path: Path, raws: list[bytes], user: str) -> None:
    """Every appended mail stored once (bytes, derived row) and one source row per UID."""
    db = open_db(str(db_path))
    stored = {r[0] for r in db.execute("select sha256 from raw_messages")}
    digests = [hashlib.sha256(r).hexdigest() for r in raws]
    assert set(digests) <= stored and len(stored) == len(set(digests))
    assert db["messages"].count == len(set(digests))  # derive_pending finished every crash
    sources = [r[0] for r in db.execute("select source from message_sources where source like ?",
                                        [f"imap:{user}@%"])]
    assert len(sources) == len(raws)
    uids = [s.rsplit("UID=", 1)[1] for s in sources]
    assert len(set(uids)) == len(uids)
    db.conn.close()


# ---- settings (no server)

def test_settings_from_env_and_flags(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("bí mật\n")
    secret.chmod(0o600)  # a password file others can read is refused
    s = ImapSettings.from_env({"INTAKE_IMAP_HOST": "mail.example.vn", "INTAKE_IMAP_USER": "vanphong",
                               "INTAKE_IMAP_PASSWORD_FILE": str(secret), "INTAKE_IMAP_FOLDER": "INBOX, Báo cáo",
                               "INTAKE_IMAP_ACTION": "INBOX=move:Đã nhận,Báo cáo=flag:$Intake"}, port=1993)
    assert (s.password, s.port, s.ssl, s.folders) == ("bí mật", 1993, "1", ["INBOX", "Báo cáo"])
    assert s.action("INBOX").kind == "move" and s.action("Báo cáo").arg == "$Intake"
    assert "bí mật" not in repr(s)
    assert ImapSettings.from_env({"INTAKE_IMAP_HOST": "h", "INTAKE_IMAP_USER": "u", "INTAKE_IMAP_PASSWORD": "p",
                                  "INTAKE_IMAP_SSL": "starttls"}).port == 143
    with pytest.raises(ImapConfigError, match="port 993 is IMAP over implicit TLS"):
        ImapSettings.from_env({"INTAKE_IMAP_HOST": "h", "INTAKE_IMAP_USER": "u", "INTAKE_IMAP_PASSWORD": "p",
                               "INTAKE_IMAP_SSL": "starttls", "INTAKE_IMAP_PORT": "993"})
    assert parse_actions("flag", ["A", "B"])["B"].arg == "\\Flagged"


def test_plaintext_to_a_remote_host_is_refused(run_cli, monkeypatch):
    with pytest.raises(ImapConfigError, match="plaintext"):
        ImapSettings.from_env({"INTAKE_IMAP_HOST": "mail.example.vn", "INTAKE_IMAP_USER": "u",
                               "INTAKE_IMAP_PASSWORD": "p", "INTAKE_IMAP_SSL": "0"})
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", "p")
    result = run_cli("poll", "--once", "--host", "10.0.0.5", "--user", "u", "--ssl", "0")
    assert result.exit_code == 2 and "refusing plaintext" in result.output


def test_a_second_lock_on_one_database_is_refused(tmp_path):
    with PollLock(str(tmp_path / "intake.db")):
        with pytest.raises(PollLocked, match="pid"):
            PollLock(str(tmp_path / "intake.db")).acquire()
    PollLock(str(tmp_path / "intake.db")).acquire()  # free again once released


# ---- against Dovecot

def test_sample_inbox_by_imap_gives_the_expected_statuses_and_leaves_mail_unread(dovecot, imap_user, tmp_path):
    user, pw = imap_user
    files = sorted(SAMPLE_INBOX.glob("*.eml"))
    # INTERNALDATE = the office server's Received time, as a real delivery would set it.
    _append(dovecot, user, pw, [(f.read_bytes(), parse_mail(f.read_bytes()).received_at) for f in files])
    db_path = tmp_path / "intake.db"
    first = _poll_once(_env(dovecot, user, pw, db_path))
    assert first.returncode == 0, first.stderr
    assert f"{len(files)} mails fetched: {len(files)} new" in first.stdout
    db = open_db(str(db_path))
    got = {s.unit: s for s in statuses(db, load_campaign(CAMPAIGN_FILE), datetime.fromisoformat(NOW))}
    for unit, want in EXPECTED.items():
        assert got[unit].status == want["status"], unit
        assert sorted(got[unit].missing_attachments) == sorted(want["missing_attachments"]), unit
        assert sorted(got[unit].missing_sections) == sorted(want["missing_sections"]), unit
    stored = {r[0] for r in db.execute("select sha256 from raw_messages")}
    assert stored == {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}  # byte for byte
    assert {r[0] for r in db.execute("select received_basis from messages")} == {"internaldate"}
    source = db.execute("select source from message_sources order by source limit 1").fetchone()[0]
    assert source.startswith(f"imap:{user}@127.0.0.1/INBOX;UIDVALIDITY=") and ";UID=" in source

    c = dovecot.client(user, pw)
    c.select_folder("INBOX", readonly=True)
    flags = c.get_flags(c.search("ALL"))
    c.logout()
    assert len(flags) == len(files) and not any(b"\\Seen" in f for f in flags.values())

    again = _poll_once(_env(dovecot, user, pw, db_path))
    assert again.returncode == 0 and "0 mails fetched: 0 new, 0 already stored" in again.stdout
    polls = list(db.query("select * from polls order by id"))
    assert [(p["new"], p["status"], p["errors"]) for p in polls] == [(len(files), "ok", None), (0, "ok", None)]
    assert db["imap_sync"].count == 1 and "mat-khau" not in str(list(db.query("select * from polls")))


def test_idle_picks_up_new_mail_and_survives_a_server_restart(dovecot, imap_user, tmp_path):
    user, pw = imap_user
    db_path = tmp_path / "intake.db"
    settings = ImapSettings.from_env(_env(dovecot, user, pw, db_path))
    stop, errors = threading.Event(), []
    open_db(str(db_path)).conn.close()  # the schema first, not raced by the reads below

    def poller():
        try:
            run(str(db_path), settings, [load_campaign(CAMPAIGN_FILE)], stop=stop)
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    try:
        mails = [_mail(n) for n in range(3)]
        _append(dovecot, user, pw, mails[:1])
        _wait(lambda: _count(db_path, "select count(*) from messages") == 1, what="the first mail by IDLE")
        dovecot.restart()  # the IDLE connection is cut
        _append(dovecot, user, pw, mails[1:])
        _wait(lambda: _count(db_path, "select count(*) from messages") == 3, what="mail after the restart")
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive() and not errors
    _assert_exactly_once(db_path, [m[0] for m in mails], user)


def test_kill_9_at_random_points_loses_and_duplicates_nothing(dovecot, imap_user, tmp_path):
    user, pw = imap_user
    db_path = tmp_path / "intake.db"
    env = _env(dovecot, user, pw, db_path, action="flag:$Intake")
    rng = random.Random(20220615)
    appended: list[bytes] = []
    for trial in range(20):
        mails = [_mail(100 + 3 * trial + k) for k in range(3)]
        _append(dovecot, user, pw, mails)
        appended += [m[0] for m in mails]
        p = _poller(env)
        # From the middle of the interpreter's start-up to well past the first pass.
        time.sleep(rng.uniform(0.3, 1.5))
        p.kill()
        p.communicate()
    # A clean run in the loop, stopped by SIGTERM once it has caught up.
    p = _poller(env)
    _wait(lambda: _count(db_path, "select count(*) from messages") == len(appended), timeout=30,
          what="the poller to catch up")
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=15)
    assert p.returncode == 0, err
    _assert_exactly_once(db_path, appended, user)
    c = dovecot.client(user, pw)
    c.select_folder("INBOX", readonly=True)
    assert len(c.search(["KEYWORD", "$Intake"])) == len(appended)  # the action caught up after crashes
    c.logout()


def test_two_pollers_at_once_never_process_a_mail_twice(dovecot, imap_user, tmp_path):
    user, pw = imap_user
    db_path = tmp_path / "intake.db"
    env = _env(dovecot, user, pw, db_path)
    appended = []
    for round_ in range(3):
        mails = [_mail(200 + 10 * round_ + k) for k in range(5)]
        _append(dovecot, user, pw, mails)
        appended += [m[0] for m in mails]
        both = [_poller(env, "--once") for _ in range(2)]
        results = [(p.wait(60), p.communicate()[1]) for p in both]
        for code, err in results:
            assert code == 0 or (code == 2 and "another `intake poll`" in err), err
        assert any(code == 0 for code, _ in results)
    _poll_once(env)
    _assert_exactly_once(db_path, appended, user)


def test_uidvalidity_change_resyncs_without_duplicates_or_downloads(dovecot, imap_user, tmp_path):
    user, pw = imap_user
    db_path = tmp_path / "intake.db"
    env = _env(dovecot, user, pw, db_path, folder="Reports")
    mails = [_mail(300 + k) for k in range(4)]
    _append(dovecot, user, pw, mails, folder="Reports")
    assert _poll_once(env).returncode == 0
    before = _count(db_path, "select uidvalidity from imap_sync")

    c = dovecot.client(user, pw)
    c.delete_folder("Reports")
    c.logout()
    time.sleep(1.1)  # Dovecot derives UIDVALIDITY from the clock
    _append(dovecot, user, pw, mails, folder="Reports")
    second = _poll_once(env)
    assert second.returncode == 0, second.stderr
    assert "0 mails fetched: 0 new, 4 already stored" in second.stdout  # skipped by Message-ID + size + date
    assert _count(db_path, "select uidvalidity from imap_sync") != before
    assert _count(db_path, "select count(*) from raw_messages") == 4
    assert _count(db_path, "select count(*) from messages") == 4
    assert _count(db_path, "select count(*) from message_sources") == 8  # both UIDVALIDITY generations


def test_move_action_moves_to_a_created_folder_after_storing(dovecot, imap_user, tmp_path):
    user, pw = imap_user
    db_path = tmp_path / "intake.db"
    mails = [_mail(400 + k) for k in range(3)]
    _append(dovecot, user, pw, mails)
    result = _poll_once(_env(dovecot, user, pw, db_path, action="move:Đã nhận"))
    assert result.returncode == 0, result.stderr
    assert "3 flagged or moved" in result.stdout
    c = dovecot.client(user, pw)
    assert c.select_folder("INBOX")[b"EXISTS"] == 0
    assert c.select_folder("Đã nhận")[b"EXISTS"] == 3
    c.logout()
    _assert_exactly_once(db_path, [m[0] for m in mails], user)
    assert _count(db_path, "select sum(actions) from polls") == 3


def test_bad_password_is_one_clear_error_with_status_2(dovecot, imap_user, tmp_path):
    user, _ = imap_user
    db_path = tmp_path / "intake.db"
    once = _poll_once(_env(dovecot, user, "sai-mat-khau", db_path))
    assert once.returncode == 2
    assert f"IMAP login as {user}@127.0.0.1 refused" in once.stderr and "Traceback" not in once.stderr
    assert "sai-mat-khau" not in once.stderr + once.stdout
    loop = _poller(_env(dovecot, user, "sai-mat-khau", db_path))  # the loop stops too: no retry storm
    out, err = loop.communicate(timeout=30)
    assert loop.returncode == 2 and err.count("refused") == 1


def test_mail_deleted_before_it_was_seen_moves_the_checkpoint_past_it(dovecot, imap_user, tmp_path):
    user, pw = imap_user
    db_path = tmp_path / "intake.db"
    _append(dovecot, user, pw, [_mail(500), _mail(501)])
    c = dovecot.client(user, pw)
    c.select_folder("INBOX")
    c.delete_messages([2])
    c.expunge()
    c.logout()
    settings = ImapSettings.from_env(_env(dovecot, user, pw, db_path))
    report = run(str(db_path), settings, [load_campaign(CAMPAIGN_FILE)], once=True)
    assert (report.new, report.fetched) == (1, 1)
    # Else the next SELECT's UIDNEXT (3) would look like new mail forever and IDLE would never start.
    assert _count(db_path, "select last_uid from imap_sync") == 2


def test_poll_sends_due_alerts_when_smtp_is_configured(dovecot, imap_user, smtp_server, tmp_path):
    user, pw = imap_user
    first = sorted(SAMPLE_INBOX.glob("*.eml"))[0]  # so-noi-vu, complete and on time
    _append(dovecot, user, pw, [(first.read_bytes(), parse_mail(first.read_bytes()).received_at)])
    smtp = {"INTAKE_SMTP_HOST": smtp_server.host, "INTAKE_SMTP_PORT": str(smtp_server.port),
            "INTAKE_SMTP_FROM": "Văn phòng <vanphong@dangbokhoi.example.vn>", "INTAKE_ALERTS_MAX_AGE_DAYS": "0"}
    off = _poll_once(_env(dovecot, user, pw, tmp_path / "off.db") | smtp | {"INTAKE_ALERTS": "0"})
    assert off.returncode == 0, off.stderr
    assert smtp_server.messages == []
    on = _poll_once(_env(dovecot, user, pw, tmp_path / "on.db") | smtp)
    assert on.returncode == 0, on.stderr
    receipts = [m for m in smtp_server.messages if "dangbo@snv.example.vn" in m["To"]]
    assert receipts and receipts[0]["Auto-Submitted"] == "auto-replied"
    assert _count(tmp_path / "on.db", "select count(*) from alerts where outcome = 'sent'") >= 1
    # SMTP down: the mail is still fetched, the alerts wait without an attempt counted.
    down = _poll_once(_env(dovecot, user, pw, tmp_path / "down.db") | smtp | {"INTAKE_SMTP_PORT": str(free_port())})
    assert down.returncode == 0 and "1 mails fetched: 1 new" in down.stdout
    assert "alerts not sent: cannot reach the SMTP server" in down.stderr
    assert _count(tmp_path / "down.db", "select count(*) from alerts") == 0


def test_one_mail_in_several_folders_is_downloaded_stored_and_counted_once(dovecot, imap_user, tmp_path):
    user, pw = imap_user
    db_path = tmp_path / "intake.db"
    report = sorted(SAMPLE_INBOX.glob("*.eml"))[0]  # so-noi-vu's report: it counts for a unit
    raw = report.read_bytes()
    mail = (raw, parse_mail(raw).received_at)
    # Gmail shows one message in every label's folder; an office copies one into a folder of its own.
    _append(dovecot, user, pw, [mail], folder="INBOX")
    _append(dovecot, user, pw, [mail], folder="Báo cáo")
    _append(dovecot, user, pw, [], folder="Lưu trữ")
    env = _env(dovecot, user, pw, db_path, folder="INBOX,Báo cáo,Lưu trữ")
    first = _poll_once(env)
    assert first.returncode == 0, first.stderr
    assert "1 mails fetched: 1 new, 1 already stored" in first.stdout
    # A third copy, moved by hand from INBOX into another polled folder: a new UID there, the same mail.
    c = dovecot.client(user, pw)
    c.select_folder("INBOX")
    c.move(c.search("ALL"), "Lưu trữ")
    c.logout()
    second = _poll_once(env)
    assert second.returncode == 0, second.stderr
    assert "0 mails fetched: 0 new, 1 already stored" in second.stdout
    db = open_db(str(db_path))
    assert db["raw_messages"].count == 1 and db["messages"].count == 1
    assert db.execute("select count(*) from message_sources").fetchone()[0] == 3  # every place it was seen
    got = {s.unit: s for s in statuses(db, load_campaign(CAMPAIGN_FILE), datetime.fromisoformat(NOW))}
    assert got["so-noi-vu"].status == "on_time" and len(got["so-noi-vu"].messages) == 1
    assert db.execute("select sum(fetched), sum(new), sum(skipped) from polls").fetchone() == (1, 1, 2)
    db.conn.close()


def test_gmail_id_tells_a_mail_stored_from_another_folder(dovecot, imap_user, db, tmp_path):
    """Where the server is Gmail (X-GM-EXT-1, which Dovecot is not), the X-GM-MSGID of the FETCH
    answer is kept with the first folder's source and recognizes the mail in any other folder, even
    one without a Message-ID."""
    user, pw = imap_user
    settings = ImapSettings.from_env(_env(dovecot, user, pw, tmp_path / "intake.db"))
    raw, received = b"From: vanthu@donvi.example.vn\r\nSubject: no Message-ID\r\n\r\nNoi dung.\r\n", _mail(0)[1]
    first = source_id(settings, "INBOX", 1, 7)
    digest, _ = save_raw(db, raw, first, received)
    UidCheckpoint(settings.account, "INBOX", 1, 7, source=first, gmail_id="1278455344230334865").commit(db)
    seen = {b"ENVELOPE": None, b"RFC822.SIZE": len(raw), b"INTERNALDATE": received, b"X-GM-MSGID": 1278455344230334865}
    session = settings.connect()
    try:
        assert session.already_stored(db, Described.of(seen)) == digest  # from "[Gmail]/All Mail", say
        assert session.already_stored(db, Described.of(seen | {b"X-GM-MSGID": 1278455344230334866})) is None
        other = ImapSettings.from_env(_env(dovecot, "someone-else", pw, tmp_path / "intake.db"))
        assert ImapSession(other, session.client).already_stored(db, Described.of(seen)) is None  # ids are per account
    finally:
        session.close()
