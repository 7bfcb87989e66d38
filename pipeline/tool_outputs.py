"""LibreOffice's and tesseract's outputs kept in the database (the `tool_outputs` table), for the
extractors' tool cache (extractors/toolcache.py).

Mails are read in worker processes that never write: each looks outputs up on a read-only
connection of its own and hands the new ones back with the mail's rows, which the parent writes
in one transaction (pipeline/store.py replace_derived).
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Callable
from typing import Any

from pipeline.store import now_iso


class KeptOutputs:
    """A ToolCache over the table, read through `connect()` (opened at the first lookup: a worker
    opens its own after the fork); what is new, and which kept ones were used, wait for `taken()`,
    to go with the mail's rows."""

    def __init__(self, connect: Callable[[], sqlite3.Connection | None]) -> None:
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._opened = False
        self._new: list[dict[str, Any]] = []
        self._pending: dict[str, bytes] = {}  # the new ones, for the same image read twice in one mail
        self._used: list[str] = []

    def get(self, key: str) -> bytes | None:
        if key in self._pending:
            return self._pending[key]
        if not self._opened:
            self._conn, self._opened = self._connect(), True
        if self._conn is None:
            return None
        try:
            row = self._conn.execute("select output from tool_outputs where key = ?", [key]).fetchone()
            output = zlib.decompress(row[0]) if row else None
        except (sqlite3.Error, zlib.error):  # an older database, a damaged row: the tool runs again
            return None
        if output is not None:
            self._used.append(key)
        return output

    def put(self, key: str, tool: str, output: bytes) -> None:
        self._pending[key] = output
        self._new.append({"key": key, "tool": tool, "output": zlib.compress(output), "size": len(output),
                         "made_at": now_iso()})

    def used(self, keys: list[str]) -> None:
        self._used.extend(keys)

    def taken(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The rows of the new outputs and the keys of the kept ones used, handed over once."""
        new, used = self._new, self._used
        self._new, self._pending, self._used = [], {}, []
        return new, used


def read_only(path: str | None) -> Callable[[], sqlite3.Connection | None]:
    """How a worker connects to the database file at `path` to look outputs up (None: no file)."""
    def connect() -> sqlite3.Connection | None:
        if path is None:
            return None
        try:
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        except sqlite3.Error:
            return None
    return connect


class OutputsInUse:
    """The kept outputs a reprocess of every mail used or made, gathered in a temporary table (ten
    years of mail would not fit a flat memory), so that at its end those no reading asks for any
    more are dropped: made by an older LibreOffice, tesseract or OCR code, or for mails since archived.
    Rows another process made meanwhile (`made_at` from `started`) are left alone."""

    def __init__(self, conn: sqlite3.Connection, started: str) -> None:
        self._conn, self._started = conn, started
        # statements that open no transaction: one left open would hold a read lock all along
        conn.execute("drop table if exists temp.outputs_in_use")
        conn.execute("create temp table outputs_in_use (key text primary key)")

    def add(self, keys: list[str]) -> None:
        if keys:
            with self._conn:
                self._conn.executemany("insert or ignore into temp.outputs_in_use values (?)", [(k,) for k in keys])

    def drop_unused(self) -> int:
        """Drop the kept outputs not used; returns how many."""
        with self._conn:
            dropped = self._conn.execute("""delete from tool_outputs where made_at < ?
                and key not in (select key from temp.outputs_in_use)""", [self._started]).rowcount
        self._conn.execute("drop table temp.outputs_in_use")
        return dropped


def forget(conn: sqlite3.Connection) -> int:
    """Every kept output dropped (`intake reprocess --rerun-tools`); returns how many."""
    with conn:
        return conn.execute("delete from tool_outputs").rowcount
