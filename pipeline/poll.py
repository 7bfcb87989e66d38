"""`intake poll`: the loop around pipeline/imap.py, with the lock, signals, reconnects and the
`polls` table.

One poller per database: an fcntl lock on "<db>.poll.lock" (released by the kernel when the process
dies, even by kill -9). A second poller does not wait: it exits at once with a message naming the
holder, so a service manager shows the mistake instead of a silent standby.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

import sqlite_utils
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from pipeline.alerts import AlertConfigError, AlertSettings, SmtpUnavailable, run_due_alerts
from pipeline.flow import derive_pending, refresh_statuses
from pipeline.imap import FolderPass, ImapAuthError, ImapSettings, connect, has_unseen_uids, sync_folder
from pipeline.store import now_iso, open_db, save_campaigns

log = logging.getLogger(__name__)

BACKOFF_START, BACKOFF_MAX = 1.0, 60.0
IDLE_RENEW = 25 * 60  # RFC 2177: re-issue IDLE before the server's 30-minute inactivity timeout
# Network trouble worth a reconnect; anything else is a bug and should surface.
NETWORK_ERRORS = (OSError, EOFError, IMAPClientError)


class PollLocked(Exception):
    """Another poller holds the database's lock."""


class PollLock:
    """An exclusive fcntl lock on "<db>.poll.lock", holding the owner's pid for the message."""

    def __init__(self, db_path: str):
        self.path = os.path.abspath(db_path) + ".poll.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise PollLocked(f"another `intake poll` (pid {holder}) is already using this database "
                             f"(lock {self.path}); only one poller per database may run") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock; the file stays (unlinking would race)
            self._fd = None

    def __enter__(self) -> PollLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@dataclass
class PollReport:
    passes: int = 0
    fetched: int = 0
    new: int = 0
    skipped: int = 0
    actions: int = 0
    errors: list[str] = field(default_factory=list)


def record_pass(db: sqlite_utils.Database, account: str, result: FolderPass, started: str) -> None:
    """One row per pass per folder; a quiet pass after a quiet pass only extends that row, so an
    idle mailbox polled every minute does not bury the passes that did something."""
    quiet = not (result.fetched or result.new or result.skipped or result.actions or result.errors)
    with db.conn:
        last = db.execute("select id, status, fetched, new, skipped, actions from polls where account = ? "
                          "and folder = ? order by id desc limit 1", [account, result.folder]).fetchone()
        if quiet and last and last[1] == "ok" and not any(last[2:]):
            db.execute("update polls set finished_at = ?, passes = passes + 1, uidvalidity = ? where id = ?",
                       [now_iso(), result.uidvalidity, last[0]])
            return
        db["polls"].insert({
            "started_at": started, "finished_at": now_iso(), "account": account, "folder": result.folder,
            "uidvalidity": result.uidvalidity, "status": "error" if result.errors else "ok", "passes": 1,
            "fetched": result.fetched, "new": result.new, "skipped": result.skipped, "actions": result.actions,
            "errors": json.dumps(result.errors, ensure_ascii=False) if result.errors else None,
        })


def record_failure(db: sqlite_utils.Database, account: str, folder: str, started: str, error: str) -> None:
    with db.conn:
        db["polls"].insert({"started_at": started, "finished_at": now_iso(), "account": account, "folder": folder,
                            "status": "error", "passes": 1, "fetched": 0, "new": 0, "skipped": 0, "actions": 0,
                            "errors": json.dumps([error], ensure_ascii=False)})


def one_pass(client: IMAPClient, db: sqlite_utils.Database, settings: ImapSettings, campaigns: list,
             stop: Callable[[], bool], report: PollReport, catch_up: bool) -> None:
    """Every folder once; statuses refreshed when something new was stored."""
    new_before = report.new
    for folder in settings.folders:
        if stop():
            break
        started = now_iso()
        try:
            result = sync_folder(client, db, settings, folder, campaigns, stop, catch_up)
        except ImapAuthError:
            raise
        except NETWORK_ERRORS as exc:
            record_failure(db, settings.account, folder, started, _describe(exc))
            raise
        record_pass(db, settings.account, result, started)
        report.fetched += result.fetched
        report.new += result.new
        report.skipped += result.skipped
        report.actions += result.actions
        report.errors += [f"{folder}: {e}" for e in result.errors]
        if result.new:
            log.info("%s: %d new, %d skipped", folder, result.new, result.skipped)
    report.passes += 1
    if report.new > new_before:
        refresh_statuses(db, campaigns)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def wait_for_mail(client: IMAPClient, db: sqlite_utils.Database, settings: ImapSettings,
                  stop: threading.Event) -> None:
    """Until new mail may be there: IDLE on the first folder when the server has it (new mail is
    announced by EXISTS), else sleep `interval`. Either way every `interval` at most, so other
    folders and a missed notification are caught up."""
    if not (settings.idle and client.has_capability("IDLE")):
        stop.wait(settings.interval)
        return
    info = client.select_folder(settings.folders[0], readonly=True)
    if has_unseen_uids(db, settings, settings.folders[0], info):
        return  # arrived after the pass looked: IDLE would not announce it again
    client.idle()
    try:
        deadline = time.monotonic() + min(settings.interval, IDLE_RENEW)
        quick_empty = 0
        while not stop.is_set() and time.monotonic() < deadline:
            # Short waits so SIGTERM is noticed within a second.
            began = time.monotonic()
            responses = client.idle_check(timeout=1)
            if any(r and r[0] == b"BYE" for r in responses):
                raise IMAPClientAbortError("the server closed the connection during IDLE")
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                break
            # imapclient's idle_check swallows EOF and returns nothing at once: without this the
            # loop would spin on a dead connection until the next renewal.
            quick_empty = quick_empty + 1 if not responses and time.monotonic() - began < 0.5 else 0
            if quick_empty >= 3:
                raise IMAPClientAbortError("connection closed during IDLE")
    finally:
        client.idle_done()


def _backoff() -> Iterator[float]:
    delay = BACKOFF_START
    while True:
        yield delay
        delay = min(delay * 2, BACKOFF_MAX)


class AlertSchedule:
    """Due alerts sent from the poll loop at most every `interval` seconds (they are idempotent:
    each is recorded and never sent twice, so the schedule only bounds the work)."""

    def __init__(self, settings: AlertSettings | None, interval: float = 300.0):
        self.settings = settings if settings and settings.enabled else None
        self.interval = interval
        self._last = float("-inf")

    def maybe_run(self, db: sqlite_utils.Database, campaigns: list) -> None:
        if self.settings is None or time.monotonic() - self._last < self.interval:
            return
        self._last = time.monotonic()
        try:
            run_due_alerts(db, campaigns, self.settings, datetime.now(timezone.utc))
        except AlertConfigError as exc:
            log.warning("alerts switched off for this run: %s", exc)
            self.settings = None
        except SmtpUnavailable as exc:
            log.warning("alerts not sent: %s; tried again at the next round", exc)


def run(db_path: str, settings: ImapSettings, campaigns: list, once: bool = False,
        stop: threading.Event | None = None,
        open_database: Callable[[str], sqlite_utils.Database] = open_db,
        alerts: AlertSchedule | None = None) -> PollReport:
    """Poll until `stop` is set (SIGTERM/SIGINT set it when run in the main thread), or one pass
    with `once`. Raises PollLocked, ImapAuthError, and with `once` the network error itself.
    The database is opened under the lock, so two pollers never race even to create it."""
    stop = stop or threading.Event()
    report = PollReport()
    with PollLock(db_path):
        db = open_database(db_path)
        restore = _install_signals(stop)
        try:
            save_campaigns(db, campaigns)
            derive_pending(db, campaigns)  # what a crash left between the raw commit and deriving
            delays = _backoff()
            while not stop.is_set():
                try:
                    client = connect(settings)
                except ImapAuthError:
                    raise  # retrying a refused password only locks the account
                except NETWORK_ERRORS as exc:
                    if once:
                        raise
                    delay = next(delays)
                    log.warning("cannot reach %s:%s (%s); retrying in %.0f s", settings.host, settings.port,
                                _describe(exc), delay)
                    record_failure(db, settings.account, ",".join(settings.folders), now_iso(), _describe(exc))
                    stop.wait(delay)
                    continue
                try:
                    catch_up = True
                    while not stop.is_set():
                        one_pass(client, db, settings, campaigns, stop.is_set, report, catch_up)
                        if alerts:
                            alerts.maybe_run(db, campaigns)
                        catch_up = False
                        delays = _backoff()  # a pass went through: the next outage starts small again
                        if once:
                            return report
                        wait_for_mail(client, db, settings, stop)
                except NETWORK_ERRORS as exc:
                    if once:
                        raise
                    delay = next(delays)
                    log.warning("connection to %s lost (%s); reconnecting in %.0f s", settings.host,
                                _describe(exc), delay)
                    stop.wait(delay)
                finally:
                    try:
                        client.logout()
                    except Exception:  # noqa: BLE001 - the connection may already be gone
                        pass
            return report
        finally:
            restore()


def _install_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set `stop`: the message in hand is finished, then the loop ends."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return restore
