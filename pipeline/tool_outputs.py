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
    opens its own after the fork); what is new waits for `taken()`, to go with the mail's rows."""

    def __init__(self, connect: Callable[[], sqlite3.Connection | None]) -> None:
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._opened = False
        self._new: list[dict[str, Any]] = []
        self._pending: dict[str, bytes] = {}  # the new ones, for the same image read twice in one mail

    def get(self, key: str) -> bytes | None:
        if key in self._pending:
            return self._pending[key]
        if not self._opened:
            self._conn, self._opened = self._connect(), True
        if self._conn is None:
            return None
        try:
            row = self._conn.execute("select output from tool_outputs where key = ?", [key]).fetchone()
            return zlib.decompress(row[0]) if row else None
        except (sqlite3.Error, zlib.error):  # an older database, a damaged row: the tool runs again
            return None

    def put(self, key: str, tool: str, output: bytes) -> None:
        self._pending[key] = output
        self._new.append({"key": key, "tool": tool, "output": zlib.compress(output), "size": len(output),
                         "made_at": now_iso()})

    def taken(self) -> list[dict[str, Any]]:
        """The new outputs, handed over once."""
        new, self._new, self._pending = self._new, [], {}
        return new


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


def forget(conn: sqlite3.Connection) -> int:
    """Every kept output dropped (`intake reprocess --rerun-tools`); returns how many."""
    with conn:
        return conn.execute("delete from tool_outputs").rowcount
