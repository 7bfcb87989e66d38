"""Deriving many mails with a pool of worker processes, written back in source order.

Parsing, reading and analyzing a mail (`derive_rows`) is pure and CPU bound: it runs in worker
processes. The parent only stores raw bytes (before submitting, so a crash is repaired by
`derive_pending`) and writes each mail's rows in one transaction, in the order the mails came.
At most `8 * workers` mails are in flight, so memory stays flat however big the mailbox is. A mail
of 1 MB or more crosses to its worker as a file in a spool folder beside the database, so that a
big one is not held pickled on both sides too.

The workers get the parent's extractor settings, with the LibreOffice and tesseract semaphores
shared by the whole pool: the INTAKE_SOFFICE_JOBS / INTAKE_OCR_JOBS limits hold for the machine,
not per worker. The pool is started at the first mail, so a run with nothing new forks nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import logging
import multiprocessing
import os
import shutil
import signal
import sqlite3
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from extractors import config as extractor_config
from pipeline.derive import Derived, derive_rows, failed_rows, write_rows
from pipeline.store import load_raw
from pipeline.tool_outputs import KeptOutputs, read_only
from rules import mentions
from rules.campaign import Campaign

log = logging.getLogger(__name__)

# Rows are written in source order, so a slow mail (a scan, a .doc) holds back the ones after it:
# with 2 a worker, the other worker ran out of mails behind it (2 workers 1.42-1.60 × one; with 8,
# 1.72-1.74, and 240 MB peak over 10,000 mails against 223)
IN_FLIGHT_PER_WORKER = 8
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class SpooledMail:
    """A mail's bytes in a file of the spool folder, for a worker to read instead of receiving them
    whole through the pool's pipe."""

    path: str


@dataclass
class DeriveJob:
    digest: str
    # None: read from the raw store (by the parent: SQLite cannot be used in a process forked while
    # another thread was inside it); a SpooledMail: the bytes in a spool file, for a worker.
    raw: bytes | SpooledMail | None
    internaldate: datetime | None
    source: str  # where the mail came from, for the log


# Called after each mail's rows are written: (the job, what was derived, seconds it took).
OnWritten = Callable[[DeriveJob, Derived, float], None]


def default_workers() -> int:
    """One worker per CPU this process may run on (cgroup/taskset limits included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _timed(job: DeriveJob, campaigns: list[Campaign], store: sqlite3.Connection | None,
           outputs: KeptOutputs) -> tuple[dict, float]:
    """A mail's rows, with the tool outputs reading it made (LibreOffice's, tesseract's) to keep."""
    started = time.perf_counter()
    with extractor_config.use_tool_cache(outputs):
        rows = derive_rows(job.digest, _raw(job, store), campaigns, job.internaldate)
    rows["tool_outputs"], rows["tool_outputs_used"] = outputs.taken()
    return rows, time.perf_counter() - started


def _raw(job: DeriveJob, store: sqlite3.Connection | None) -> bytes:
    if isinstance(job.raw, SpooledMail):
        with open(job.raw.path, "rb") as f:
            return f.read()
    if job.raw is not None:
        return job.raw
    if store is None:  # a worker is always given the bytes or their file
        raise RuntimeError(f"{job.digest[:12]}: neither its bytes nor a database to read them from")
    return load_raw(store, job.digest)


def _database_file(db: sqlite_utils.Database) -> str | None:
    """The file of `db`'s main database; None in memory."""
    return next((row[2] for row in db.conn.execute("PRAGMA database_list") if row[1] == "main"), None) or None


SPOOL_MIN_BYTES = 1024 * 1024  # smaller mails go through the pipe


def _spooled(data: bytes, spool: str | None) -> bytes | SpooledMail:
    """`data` in a file of `spool` when it is big, else (or when the file cannot be written) itself."""
    if len(data) < SPOOL_MIN_BYTES or spool is None:
        return data
    try:
        fd, path = tempfile.mkstemp(dir=spool)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError:  # a full disk: the bytes go through the pipe
        return data
    return SpooledMail(path)


def _unspool(raw: bytes | SpooledMail | None) -> None:
    if isinstance(raw, SpooledMail):
        with contextlib.suppress(OSError):
            os.unlink(raw.path)


# ---- in the worker processes

_campaigns: list[Campaign] = []
_outputs = KeptOutputs(read_only(None))


def _init_worker(campaigns: list[Campaign], config: extractor_config.ExtractorConfig, soffice_slots: Any,
                 ocr_slots: Any, parent: int, database: str | None) -> None:
    """Runs once in each worker: the campaigns (sent once, not with every mail), the parent's
    extractor settings with the pool's semaphores, the database's kept tool outputs (read-only),
    and the signals a worker must not act on."""
    global _campaigns, _outputs
    _campaigns, _outputs = campaigns, KeptOutputs(read_only(database))
    extractor_config.configure(config, (soffice_slots, ocr_slots))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the handler a poller installed before forking
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this worker when its parent dies, even by kill -9, so no orphan
    keeps running on its own (elsewhere the pool's pipes still end it once it asks for work)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request
        os._exit(1)


def _derive_in_worker(job: DeriveJob) -> tuple[dict, float]:
    return _timed(job, _campaigns, None, _outputs)


class _Pool:
    """A ProcessPoolExecutor that can be rebuilt after a worker died."""

    def __init__(self, workers: int, campaigns: list[Campaign], database: str | None):
        # fork: the workers inherit the imported extractors and the spaCy pipeline (loaded here
        # first) instead of importing them again, which is most of a worker's start-up time.
        self.ctx = multiprocessing.get_context("fork")
        mentions.preload()
        self.workers = workers
        config = extractor_config.current()
        self.spool = _spool_folder(database)
        self.initargs = (campaigns, config, self.ctx.BoundedSemaphore(config.soffice_jobs),
                         self.ctx.BoundedSemaphore(config.ocr_jobs), os.getpid(), database)
        self.executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self.ctx, initializer=_init_worker,
                                   initargs=self.initargs)

    def submit(self, job: DeriveJob) -> Future:
        try:
            return self.executor.submit(_derive_in_worker, job)
        except BrokenProcessPool as exc:  # a worker died meanwhile: handled when this job's turn comes
            future: Future = Future()
            future.set_exception(exc)
            return future

    def rebuild(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self._new()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        if self.spool:
            shutil.rmtree(self.spool, ignore_errors=True)


def _spool_folder(database: str | None) -> str | None:
    """A new folder beside the database (the same disk, never a tmpfs /tmp that would hold the files
    in memory) for the big mails crossing the pool; None when it cannot be made."""
    if database is None:
        return None
    try:
        return tempfile.mkdtemp(prefix=".intake-spool-", dir=os.path.dirname(database))
    except OSError:  # a full disk: everything goes through the pipes
        return None


class _Writer:
    """Writes each mail's rows, logs one line per mail and tells the caller."""

    def __init__(self, db: sqlite_utils.Database, on_written: OnWritten | None):
        self.db, self.on_written, self.count = db, on_written, 0

    def __call__(self, job: DeriveJob, rows: dict, seconds: float) -> None:
        try:
            derived = write_rows(self.db, job.digest, rows)
        finally:
            _unspool(job.raw)
        self.count += 1
        log.info("%s %s: campaign %s, unit %s, documents %s, %.2f s", job.source, job.digest[:12],
                 derived.campaign or "-", derived.unit or "-", ", ".join(derived.kinds) or "-", seconds)
        if self.on_written:
            self.on_written(job, derived, seconds)


def derive_in_order(db: sqlite_utils.Database, jobs: Iterable[DeriveJob], campaigns: list[Campaign],
                    workers: int, on_written: OnWritten | None = None) -> int:
    """Derive and write every job, in order; returns how many. With one worker everything stays in
    this process. A mail that kills its worker (a crash in a native library) becomes a
    processing_error flag; the other mails in flight at that moment are derived again."""
    write = _Writer(db, on_written)
    if workers <= 1:
        outputs = KeptOutputs(lambda: db.conn)
        for job in jobs:
            write(job, *_timed(job, campaigns, db.conn, outputs))
        return write.count
    pool: _Pool | None = None
    pending: deque[tuple[DeriveJob, Future]] = deque()
    try:
        for job in jobs:
            pool = pool or _Pool(workers, campaigns, _database_file(db))
            raw = job.raw if isinstance(job.raw, bytes) else load_raw(db.conn, job.digest)
            job = dataclasses.replace(job, raw=_spooled(raw, pool.spool))
            del raw
            pending.append((job, pool.submit(job)))
            while len(pending) >= IN_FLIGHT_PER_WORKER * workers:
                _write_next(write, pool, pending)
        while pool and pending:
            _write_next(write, pool, pending)
    finally:
        if pool:
            pool.close()
    return write.count


def _write_next(write: _Writer, pool: _Pool, pending: deque[tuple[DeriveJob, Future]]) -> None:
    job, future = pending[0]
    try:
        rows, seconds = future.result()
    except BrokenProcessPool:
        _recover(write, pool, pending)  # writes the oldest job and resubmits the rest
        return
    except Exception as exc:  # noqa: BLE001 - e.g. rows that cannot be pickled: still one mail's problem
        rows, seconds = failed_rows(job.digest, f"{type(exc).__name__}: {exc}"), 0.0
    pending.popleft()
    write(job, rows, seconds)


def _recover(write: _Writer, pool: _Pool, pending: deque[tuple[DeriveJob, Future]]) -> None:
    """A worker died, and with it every future in flight. Which mail killed it is unknown, so the
    oldest pending mail is derived again alone in a fresh pool: if it kills that one too it is
    the culprit and gets the flag; the others are resubmitted."""
    jobs = [job for job, _ in pending]
    pending.clear()
    pool.rebuild()
    first = jobs[0]
    try:
        rows, seconds = pool.submit(first).result()
    except BrokenProcessPool:
        log.error("deriving %s killed its worker process", first.digest[:12])
        rows, seconds = failed_rows(first.digest, "the worker process deriving this mail died (a crash in a "
                                                  "native library, or killed for lack of memory)"), 0.0
        pool.rebuild()
    write(first, rows, seconds)
    for job in jobs[1:]:
        pending.append((job, pool.submit(job)))
