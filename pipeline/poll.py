"""`intake poll`: the loop around a live source (pipeline/sources.py; IMAP is pipeline/imap.py),
with the lock, signals, reconnects and the `polls` table. Each pass goes through the same
store-then-derive path as `ingest`, worker pool included (pipeline/flow.py).

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
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import Any

import sqlite_utils

from pipeline import schema
from pipeline.alerts import AlertConfigError, AlertSettings, SmtpUnavailable, run_due_alerts
from pipeline.flow import IngestReport, Touched, derive_pending, refresh_statuses, store_arrivals
from pipeline.sources import LiveSession, LiveSource, PassEnd, SourceRefused
from pipeline.store import is_busy, now_iso, open_db, save_campaigns
from pipeline.workers import default_workers, derive_in_order

log = logging.getLogger(__name__)

BACKOFF_START, BACKOFF_MAX = 1.0, 60.0
STOP_GRACE = 2.0  # seconds the server has, once stopping, to finish what is in hand


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
        # A forked worker shares the lock's file: closing its copy keeps the lock the poller's alone,
        # so a poller killed with its workers busy does not leave them holding it.
        os.register_at_fork(after_in_child=partial(_forget_in_child, weakref.ref(self)))

    def forget_in_child(self) -> None:
        """In a forked child: close the child's copy of the lock file (the lock stays the parent's)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock; the file stays (unlinking would race)
            self._fd = None

    def __enter__(self) -> PollLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _forget_in_child(lock: weakref.ref[PollLock]) -> None:
    held = lock()
    if held is not None:
        held.forget_in_child()


@dataclass
class PollReport:
    passes: int = 0
    fetched: int = 0
    actions: int = 0
    errors: list[str] = field(default_factory=list)
    stored: IngestReport = field(default_factory=IngestReport)  # counted as each mail is committed

    @property
    def new(self) -> int:
        return self.stored.new

    @property
    def skipped(self) -> int:
        return self.stored.known


def record_pass(db: sqlite_utils.Database, account: str, end: PassEnd, new: int, skipped: int, started: str) -> None:
    """One row per pass per folder; a quiet pass after a quiet pass only extends that row, so an
    idle mailbox polled every minute does not bury the passes that did something."""
    quiet = not (end.fetched or new or skipped or end.actions or end.errors)
    with db.conn:
        last = db.execute("select id, status, fetched, new, skipped, actions from polls where account = ? "
                          "and folder = ? order by id desc limit 1", [account, end.folder]).fetchone()
        if quiet and last and last[1] == "ok" and not any(last[2:]):
            db.execute("update polls set finished_at = ?, passes = passes + 1, uidvalidity = ? where id = ?",
                       [now_iso(), end.uidvalidity, last[0]])
            return
        schema.insert(db.conn, "polls", [{
            "started_at": started, "finished_at": now_iso(), "account": account, "folder": end.folder,
            "uidvalidity": end.uidvalidity, "status": "error" if end.errors else "ok", "passes": 1,
            "fetched": end.fetched, "new": new, "skipped": skipped, "actions": end.actions,
            "errors": json.dumps(end.errors, ensure_ascii=False) if end.errors else None,
        }])


def record_failure(db: sqlite_utils.Database, account: str, folder: str, started: str, error: str) -> None:
    with db.conn:
        schema.insert(db.conn, "polls", [{
            "started_at": started, "finished_at": now_iso(), "account": account, "folder": folder, "status": "error",
            "passes": 1, "fetched": 0, "new": 0, "skipped": 0, "actions": 0,
            "errors": json.dumps([error], ensure_ascii=False)}])


def one_pass(session: LiveSession, db: sqlite_utils.Database, source: LiveSource, campaigns: list,
             stop: Callable[[], bool], report: PollReport, catch_up: bool, workers: int) -> None:
    """Every folder once, stored and derived as `ingest` does; statuses refreshed when something
    new was stored."""
    stored, new_before = report.stored, report.stored.new
    started = now_iso()

    def on_pass_end(end: PassEnd, new: int, skipped: int) -> None:
        nonlocal started
        record_pass(db, source.account, end, new, skipped, started)
        report.fetched += end.fetched
        report.actions += end.actions
        report.errors += [f"{end.folder}: {e}" for e in end.errors]
        if new:
            log.info("%s: %d new, %d skipped", end.folder, new, skipped)
        started = now_iso()

    touched = Touched()
    try:
        derive_in_order(db, store_arrivals(db, session.arrivals(db, stop, catch_up), stored, on_pass_end),
                        campaigns, workers, touched.written)
    except source.transient_errors as exc:
        record_failure(db, source.account, session.folder, started, _describe(exc))
        raise
    report.passes += 1
    if stored.new > new_before:
        refresh_statuses(db, campaigns, touched.campaigns(db, campaigns))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Backoff:
    """Seconds to wait after each failure in a row (a lost server, a locked database): doubling
    up to BACKOFF_MAX, and small again once a pass goes through."""

    def __init__(self) -> None:
        self._delay = BACKOFF_START

    def next(self) -> float:
        delay, self._delay = self._delay, min(self._delay * 2, BACKOFF_MAX)
        return delay

    def reset(self) -> None:
        self._delay = BACKOFF_START


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


def run(db_path: str, source: LiveSource, campaigns: list, once: bool = False,
        stop: threading.Event | None = None,
        open_database: Callable[[str], sqlite_utils.Database] = open_db,
        alerts: AlertSchedule | None = None, workers: int | None = None,
        report: PollReport | None = None) -> PollReport:
    """Poll until `stop` is set (SIGTERM/SIGINT set it when run in the main thread), or one pass
    with `once`. Raises PollLocked, SourceRefused, and with `once` the network error itself.
    The database is opened under the lock, so two pollers never race even to create it. A write
    lock another process holds past the busy timeout is waited out, with backoff; a server that
    hangs is cut off STOP_GRACE seconds after `stop` is set. `report`, when given, is filled in as
    mails are stored."""
    stop = stop or threading.Event()
    workers = workers or default_workers()
    report = report if report is not None else PollReport()
    live = _Live()
    with PollLock(db_path):
        restore = _install_signals(stop)
        threading.Thread(target=_cut_when_stopped, args=(stop, live), daemon=True, name="intake-stop").start()
        try:
            db: sqlite_utils.Database | None = None
            ready = False
            delays = _Backoff()
            while not stop.is_set():
                try:
                    if not ready:
                        db = db or open_database(db_path)
                        changed = save_campaigns(db, campaigns)
                        if changed:
                            refresh_statuses(db, campaigns, changed)
                        ready = True
                    assert db is not None
                    if _connected_passes(db, source, campaigns, once, stop, alerts, workers, report, live, delays) \
                            and once:
                        return report
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc):
                        raise
                    delay = delays.next()
                    log.warning("the database is locked by another process (a backup, an export?) for longer than "
                                "the busy timeout; trying again in %.0f s", delay)
                    stop.wait(delay)
            return report
        finally:
            live.ended = True
            restore()


def _connected_passes(db: sqlite_utils.Database, source: LiveSource, campaigns: list, once: bool,
                      stop: threading.Event, alerts: AlertSchedule | None, workers: int, report: PollReport,
                      live: _Live, delays: _Backoff) -> bool:
    """Repair what a crash left, connect, and pass over the folders until stopped (once with
    `once`); True when a pass went through. Network trouble is waited out here, with backoff."""
    # What a crash (or a lost connection) left between the raw commit and deriving.
    touched = Touched()
    if derive_pending(db, campaigns, workers, stop.is_set, touched):
        refresh_statuses(db, campaigns, touched.campaigns(db, campaigns))
    try:
        session = _connect(source, stop)
    except SourceRefused:
        raise  # retrying a refused password only locks the account
    except source.transient_errors as exc:
        if once:
            raise
        delay = delays.next()
        log.warning("cannot reach %s (%s); retrying in %.0f s", source.address, _describe(exc), delay)
        record_failure(db, source.account, ",".join(source.folders), now_iso(), _describe(exc))
        stop.wait(delay)
        return False
    if session is None:
        return False  # stopped while connecting
    live.session, passed = session, False
    try:
        catch_up = True
        while not stop.is_set():
            one_pass(session, db, source, campaigns, stop.is_set, report, catch_up, workers)
            passed = True
            delays.reset()  # a pass went through: the next outage starts small again
            if alerts:
                alerts.maybe_run(db, campaigns)
            catch_up = False
            if once:
                return True
            session.wait_for_mail(db, stop)
    except source.transient_errors as exc:
        if once and not stop.is_set():
            raise
        if not stop.is_set():
            delay = delays.next()
            log.warning("connection to %s lost (%s); reconnecting in %.0f s", source.address, _describe(exc), delay)
            stop.wait(delay)
    finally:
        session.close()
        live.session = None
    return passed


class _Live:
    """The session the loop is in, for the thread that cuts it off when stopping."""

    session: LiveSession | None = None
    ended = False  # the loop is over: the thread has nothing left to watch


def _cut_when_stopped(stop: threading.Event, live: _Live) -> None:
    """Once `stop` is set, give what is in hand STOP_GRACE seconds, then cut the connection: a read
    waiting on a server that hangs (mid-fetch, in IDLE, at logout) returns at once and the loop ends."""
    while not stop.wait(0.5):
        if live.ended:
            return
    time.sleep(STOP_GRACE)
    session = live.session
    if session is not None and not live.ended:
        log.warning("the server does not answer: its connection is cut to stop")
        session.interrupt()


def _connect(source: LiveSource, stop: threading.Event) -> LiveSession | None:
    """source.connect(), or None when `stop` is set first: a server that hangs at the greeting or
    the login must not hold up stopping (the attempt is left to end on its own, in a daemon thread)."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["session"] = source.connect()
        except BaseException as exc:  # noqa: BLE001 - handed over to the loop's thread as it is
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=attempt, daemon=True, name="intake-connect").start()
    while not done.wait(0.1):
        if stop.is_set():
            return None
    if "error" in outcome:
        raise outcome["error"]
    return outcome["session"]


def _install_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set `stop`: the message in hand is finished, then the loop ends."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return restore
