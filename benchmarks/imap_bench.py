"""The two IMAP figures, against a real Dovecot on loopback (tests/servers.py's `Dovecot`: plain
code, importable without pytest; a dev tool may lean on the test servers rather than the package
growing a server class nobody else needs)."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks import corpus
from tests.fixtures.mail import VN, build_mail

USER, PASSWORD = "benchmark", "mat-khau-benchmark"
NULLS = {"poll_nothing_new_s": None, "idle_latency_s": None}


def _tiny(i: int) -> tuple[bytes, datetime]:
    """Old, small, unrelated mail: the bulk of a real office mailbox."""
    when = datetime(2021, 1, 1, 7, 0, tzinfo=VN) + timedelta(minutes=i)
    return build_mail(sender=f"nguoigui{i % 97}@example.vn", sender_name="Người gửi", subject=f"Thư cũ số {i}",
                      received=when, body=f"Thư cũ số {i}."), when


def imap_figures(n_messages: int, base_campaign: Path, work: Path) -> dict:
    from tests.servers import Dovecot, dovecot_missing

    reason = dovecot_missing()
    if reason:
        return {**NULLS, "imap_skipped": reason}
    from imapclient import IMAPClient

    from pipeline.imap import ImapSettings
    from pipeline.poll import run

    server = Dovecot()
    try:
        server.start()
        server.add_user(USER, PASSWORD)
        client: IMAPClient = server.client(USER, PASSWORD)
        batch = 500
        for start in range(0, n_messages, batch):  # MULTIAPPEND: one round trip per batch
            client.multiappend("INBOX", [{"msg": raw, "date": when} for raw, when in
                                         (_tiny(i) for i in range(start, min(n_messages, start + batch)))])
        client.logout()
        settings = ImapSettings.from_env({"INTAKE_IMAP_HOST": server.host, "INTAKE_IMAP_PORT": str(server.port),
                                          "INTAKE_IMAP_USER": USER, "INTAKE_IMAP_PASSWORD": PASSWORD,
                                          "INTAKE_IMAP_SSL": "0", "INTAKE_IMAP_INTERVAL": "30"})
        campaigns = corpus.campaigns(base_campaign)
        db_path = str(work / "imap.db")
        t = time.perf_counter()
        first = run(db_path, settings, campaigns, once=True)
        first_s = time.perf_counter() - t
        assert first.new == n_messages, first
        times = []
        for _ in range(3):
            t = time.perf_counter()
            again = run(db_path, settings, campaigns, once=True)
            times.append(time.perf_counter() - t)
            assert again.new == 0
        return {"imap_messages": n_messages, "poll_first_pass_s": round(first_s, 1),
                "poll_nothing_new_s": round(min(times), 3), "idle_latency_s": _idle_latency(server, settings,
                                                                                              campaigns, db_path)}
    finally:
        server.cleanup()


def _idle_latency(server, settings, campaigns, db_path: str) -> float:
    """A poller waiting in IDLE; one report APPENDed; seconds until its unit's submission row."""
    unit = campaigns[0].units[0]
    raw = build_mail(sender=unit.emails[0], sender_name=unit.name, subject="Báo cáo sơ kết ĐỢT-0-BENCH",
                     received=datetime(2022, 6, 10, 9, 0, tzinfo=VN),
                     attachments=[("Bao cao.docx", corpus.docx_report(0))])
    return idle_latency(server, settings, campaigns, db_path, raw, campaigns[0].id, unit.id)


def idle_latency(server, settings, campaigns, db_path: str, raw: bytes, campaign_id: str, unit_id: str,
                 warm_up: tuple[bytes, str] | None = None) -> float:
    """A poller waiting in IDLE; `raw` APPENDed; seconds until the unit's status row in the
    campaign shows it received. `warm_up` (a mail, its unit) is APPENDed and waited for first:
    the first mail a poller derives loads the language model, which a poller does once."""
    from pipeline.poll import run

    stop = threading.Event()
    poller = threading.Thread(target=run, args=(db_path, settings, campaigns), kwargs={"stop": stop}, daemon=True)
    poller.start()
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        time.sleep(1.5)  # the catch-up pass is done and the poller sits in IDLE
        if warm_up:
            _append_and_wait(server, conn, *warm_up, campaign_id, timeout=300)
            time.sleep(1.5)
        return round(_append_and_wait(server, conn, raw, unit_id, campaign_id), 2)
    finally:
        conn.close()
        stop.set()
        poller.join(30)


def _append_and_wait(server, conn: sqlite3.Connection, raw: bytes, unit_id: str, campaign_id: str,
                     timeout: float = 60) -> float:
    """APPEND `raw`; seconds until the unit's status row in the campaign shows it received."""
    client = server.client(USER, PASSWORD)
    t = time.perf_counter()
    client.append("INBOX", raw)
    client.logout()
    query = "select count(*) from submissions where campaign_id = ? and unit_id = ? and received_at is not null"
    while time.perf_counter() - t < timeout:
        try:
            if conn.execute(query, [campaign_id, unit_id]).fetchone()[0]:
                return time.perf_counter() - t
        except sqlite3.OperationalError:
            pass
        time.sleep(0.02)
    raise RuntimeError("the appended report never reached the submissions table")


def history_idle_latency(history, work: Path) -> dict:
    """`idle_latency` with ten years stored (benchmarks/history.py): a unit's report to the open
    round, which it has not answered yet."""
    from benchmarks.history import mail
    from pipeline.imap import ImapSettings
    from tests.servers import Dovecot, dovecot_missing

    reason = dovecot_missing()
    if reason:
        return {"idle_latency_history_s": None, "imap_skipped": reason}
    server = Dovecot()
    try:
        server.start()
        server.add_user(USER, PASSWORD)
        settings = ImapSettings.from_env({"INTAKE_IMAP_HOST": server.host, "INTAKE_IMAP_PORT": str(server.port),
                                          "INTAKE_IMAP_USER": USER, "INTAKE_IMAP_PASSWORD": PASSWORD,
                                          "INTAKE_IMAP_SSL": "0", "INTAKE_IMAP_INTERVAL": "30"})
        c = len(history.rounds) - 2  # open, and left alone by the other measurements
        campaign = history.rounds[c]
        first, unit = [u for u in campaign.units if not (int(u.id[1:]) + c) % 10][:2]  # sent nothing yet
        warm_up = mail("docx+quy_che", 1, "idle-warm-up", campaign, first.emails[0],
                       campaign.deadline - timedelta(days=1), work)
        raw = mail("docx+quy_che", 0, "idle-history", campaign, unit.emails[0],
                   campaign.deadline - timedelta(days=1), work)
        return {"idle_latency_history_s": idle_latency(server, settings, history.rounds, str(history.path), raw,
                                                       campaign.id, unit.id, (warm_up, first.id))}
    finally:
        server.cleanup()
