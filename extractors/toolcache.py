"""What LibreOffice and tesseract made of given bytes, remembered by the caller, so that reading the
same bytes again (`intake reprocess` after an upgrade of intake, the same attachment sent twice)
does not run them again: they are most of the time a scan or a .doc takes.

An output is known by the tool, the tool's own files (path, size and time of the program and of the
data it reads: an upgraded package makes new keys), the arguments that change what it writes and
the sha256 of its input. Extractors only ask and tell; where outputs are kept is the caller's
(pipeline: a table of the database), installed with `extractors.config.use_tool_cache`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Protocol, TypeVar

T = TypeVar("T")
_ASKED: ContextVar[list[str] | None] = ContextVar("tool_outputs_asked", default=None)


class ToolCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, tool: str, output: bytes) -> None: ...

    def used(self, keys: list[str]) -> None:
        """The outputs a kept output was made from are still in use, though not asked for."""


def files_mark(paths: Iterable[str | None]) -> str:
    """Path, size and modification time of each file (its real path), "-" for one that is absent."""
    marks = []
    for path in paths:
        try:
            real = os.path.realpath(path) if path else ""
            info = os.stat(real)
            marks.append(f"{real}:{info.st_size}:{info.st_mtime_ns}")
        except OSError:
            marks.append("-")
    return "|".join(marks)


def key(tool: str, mark: str, arguments: Iterable[str], data: bytes) -> str:
    head = "\0".join([tool, mark, *arguments])
    return hashlib.sha256(head.encode() + b"\0" + hashlib.sha256(data).digest()).hexdigest()


def remembered(cache: ToolCache | None, tool: str, name: Callable[[], str], run: Callable[[], bytes]) -> bytes:
    """`run()`'s output, from `cache` when it has the one called `name()` (a `key()`, worked out only
    when there is a cache: it hashes the input); a new one is told to `cache`. Only what ran to
    the end is remembered: a failure (an exception) is tried again."""
    if cache is None:
        return run()
    known = name()
    asked = _ASKED.get()
    if asked is not None:
        asked.append(known)
    output = cache.get(known)
    if output is None:
        output = run()
        cache.put(known, tool, output)
    return output


def asked_while(run: Callable[[], T]) -> tuple[T, list[str]]:
    """`run()`'s result and the keys of the outputs asked for while it ran: those an output made
    from others' (a page's reading, from tesseract's) is made from."""
    asked: list[str] = []
    token = _ASKED.set(asked)
    try:
        return run(), asked
    finally:
        _ASKED.reset(token)


__all__ = ["ToolCache", "asked_while", "files_mark", "key", "remembered"]
