"""Deriving many mails with a pool of worker processes, written back in source order.

Parsing, reading and analyzing a mail (`derive_rows`) is pure and CPU bound: it runs in worker
processes. The parent only stores raw bytes (before submitting, so a crash is repaired by
`derive_pending`) and writes each mail's rows in one transaction, in the order the mails came.
At most `2 * workers` mails are in flight, so memory stays flat however big the mailbox is.

The workers get the parent's extractor settings, with the LibreOffice and tesseract semaphores
shared by the whole pool: the INTAKE_SOFFICE_JOBS / INTAKE_OCR_JOBS limits hold for the machine,
not per worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from extractors import config as extractor_config
from pipeline.derive import derive_rows, failed_rows, write_rows
from rules import mentions
from rules.campaign import Campaign

log = logging.getLogger(__name__)

IN_FLIGHT_PER_WORKER = 2  # enough to keep every worker busy while the parent writes


@dataclass
class DeriveJob:
    digest: str
    raw: bytes
    internaldate: datetime | None


def default_workers() -> int:
    """One worker per CPU this process may run on (cgroup/taskset limits included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# ---- in the worker processes

_campaigns: list[Campaign] = []


def _init_worker(campaigns: list[Campaign], config: extractor_config.ExtractorConfig, soffice_slots: Any,
                 ocr_slots: Any) -> None:
    """Runs once in each worker: the campaigns (sent once, not with every mail), and the parent's
    extractor settings with the pool's semaphores."""
    global _campaigns
    _campaigns = campaigns
    extractor_config.configure(config, (soffice_slots, ocr_slots))


def _derive_in_worker(digest: str, raw: bytes, internaldate: datetime | None) -> dict:
    return derive_rows(digest, raw, _campaigns, internaldate)


class _Pool:
    """A ProcessPoolExecutor that can be rebuilt after a worker died."""

    def __init__(self, workers: int, campaigns: list[Campaign]):
        # fork: the workers inherit the imported extractors and the spaCy pipeline (loaded here
        # first) instead of importing them again, which is most of a worker's start-up time.
        self.ctx = multiprocessing.get_context("fork")
        mentions.preload()
        self.workers = workers
        config = extractor_config.current()
        self.initargs = (campaigns, config, self.ctx.BoundedSemaphore(config.soffice_jobs),
                         self.ctx.BoundedSemaphore(config.ocr_jobs))
        self.executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self.ctx, initializer=_init_worker,
                                   initargs=self.initargs)

    def submit(self, job: DeriveJob) -> Future:
        try:
            return self.executor.submit(_derive_in_worker, job.digest, job.raw, job.internaldate)
        except BrokenProcessPool as exc:  # a worker died meanwhile: handled when this job's turn comes
            future: Future = Future()
            future.set_exception(exc)
            return future

    def rebuild(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self._new()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def derive_in_order(db: sqlite_utils.Database, jobs: Iterable[DeriveJob], campaigns: list[Campaign],
                    workers: int) -> int:
    """Derive and write every job, in order. With one worker everything stays in this process.
    A mail that kills its worker (a crash in a native library) becomes a processing_error flag;
    the other mails in flight at that moment are derived again."""
    count = 0
    if workers <= 1:
        for job in jobs:
            write_rows(db, job.digest, derive_rows(job.digest, job.raw, campaigns, job.internaldate))
            count += 1
        return count
    pool = _Pool(workers, campaigns)
    pending: deque[tuple[DeriveJob, Future]] = deque()
    try:
        for job in jobs:
            pending.append((job, pool.submit(job)))
            while len(pending) >= IN_FLIGHT_PER_WORKER * workers:
                count += _write_next(db, pool, pending)
        while pending:
            count += _write_next(db, pool, pending)
    finally:
        pool.close()
    return count


def _write_next(db: sqlite_utils.Database, pool: _Pool, pending: deque[tuple[DeriveJob, Future]]) -> int:
    job, future = pending[0]
    try:
        rows = future.result()
    except BrokenProcessPool:
        _recover(db, pool, pending)
        return 1  # _recover wrote the oldest job and resubmitted the rest
    except Exception as exc:  # e.g. rows that cannot be pickled: still one mail's problem
        rows = failed_rows(job.digest, f"{type(exc).__name__}: {exc}")
    pending.popleft()
    write_rows(db, job.digest, rows)
    return 1


def _recover(db: sqlite_utils.Database, pool: _Pool, pending: deque[tuple[DeriveJob, Future]]) -> None:
    """A worker died, and with it every future in flight. Which mail killed it is unknown, so the
    oldest pending mail is derived again alone in a fresh pool: if it kills that one too it is
    the culprit and gets the flag; the others are resubmitted."""
    jobs = [job for job, _ in pending]
    pending.clear()
    pool.rebuild()
    first = jobs[0]
    try:
        rows = pool.submit(first).result()
    except BrokenProcessPool:
        log.error("deriving %s killed its worker process", first.digest[:12])
        rows = failed_rows(first.digest, "the worker process deriving this mail died (a crash in a native "
                                         "library, or killed for lack of memory)")
        pool.rebuild()
    write_rows(db, first.digest, rows)
    for job in jobs[1:]:
        pending.append((job, pool.submit(job)))
