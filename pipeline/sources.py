"""Where mail comes from: files on disk (.eml and Outlook .msg files, folders of them, Maildirs, mbox
files) and the interface of live sources (a mailbox read by `intake poll`; pipeline/imap.py is one).

Every message comes out as its exact stored bytes plus a stable source identity, so the raw store
can tell "already have it" without parsing. Anything that cannot be read becomes a `SourceError`
in the stream, never an exception that stops the batch. The order is deterministic. Every source
feeds the same path (pipeline/flow.py `store_arrivals`): raw bytes committed, then the source's
checkpoint moved, then the mail derived by the worker pool.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Protocol

import sqlite_utils

from extractors.docx_reader import OLE_MAGIC
from pipeline.mime_headers import HEADER_LINE, skip_preamble
from pipeline.msg import is_outlook_message

_KNOWN_HEADERS = {
    b"from", b"to", b"cc", b"subject", b"date", b"received", b"message-id", b"mime-version", b"return-path",
    b"delivered-to", b"content-type", b"reply-to", b"sender", b"x-mailer", b"user-agent", b"dkim-signature",
}
_SNIFF_BYTES = 8192
_MAIL_EXTENSIONS = {"", ".eml", ".msg", ".mbox", ".mbx", ".mail", ".emlx"}
# A file changed this recently may still be being written: a mail cut short in it waits for the next run.
STILL_WRITTEN_SECONDS = 300


class Checkpoint(Protocol):
    """How far a live source has got. Moved only once what it covers is committed."""

    def commit(self, db: sqlite_utils.Database) -> None: ...


@dataclass
class RawMail:
    source: str  # "file:<abs path>", "maildir:<abs dir>:<key>", "mbox:<abs path>:<n>", "imap:…"
    raw: bytes  # exactly as stored (mbox: without the "From " line, ">From " left as stored)
    # None from files of every kind: a Maildir file's mtime and an mbox "From " line's date are the
    # dates of whatever copied or exported them as often as of the receipt, and would override the
    # Received: header downstream. Only IMAP has a trustworthy INTERNALDATE.
    internaldate: datetime | None
    checkpoint: Checkpoint | None = None  # a live source's, moved once the bytes are committed


@dataclass
class KnownMail:
    """A mail a live source recognized as stored without downloading it."""

    source: str
    digest: str | None  # the stored mail, to record this source beside it; None: the source is recorded
    internaldate: datetime | None
    checkpoint: Checkpoint | None = None


@dataclass
class Advance:
    """A live source moved past something that is no mail (one expunged meanwhile, an empty folder)."""

    checkpoint: Checkpoint


@dataclass
class PassEnd:
    """The end of one pass over one folder, with what only the source knows of it."""

    folder: str
    uidvalidity: int | None = None
    fetched: int = 0  # bodies downloaded
    actions: int = 0  # mails flagged or moved after they were stored
    errors: list[str] = field(default_factory=list)


@dataclass
class SourceError:
    source: str
    reason: str


Arrival = RawMail | KnownMail | Advance | PassEnd | SourceError


class SourceRefused(Exception):
    """A live source refused us (a login, an unverified certificate): retrying would not help."""


class LiveSession(Protocol):
    """One connection to a live source."""

    folder: str  # the folder being read, for the row of a pass that failed

    def arrivals(self, db: sqlite_utils.Database, stop: Callable[[], bool], catch_up: bool) -> Iterator[Arrival]:
        """One pass: new mail of every folder, each folder ended by a PassEnd. `stop` is asked
        between mails; `catch_up` also finishes what a crash left undone (an action)."""
        ...

    def wait_for_mail(self, db: sqlite_utils.Database, stop: threading.Event) -> None:
        """Until new mail may be there, or `stop` is set."""
        ...

    def interrupt(self) -> None:
        """Called from another thread: end the connection now, so that a read waiting on a server
        that hangs returns (with one of the source's transient errors)."""
        ...

    def close(self) -> None: ...


class LiveSource(Protocol):
    """A mailbox read by `intake poll`; the loop knows it only through this."""

    @property
    def account(self) -> str:
        """Who is read, as the polls table names it."""
        ...

    @property
    def address(self) -> str:
        """Where, for messages ("host:port")."""
        ...

    @property
    def folders(self) -> list[str]: ...

    @property
    def transient_errors(self) -> tuple[type[BaseException], ...]:
        """What a reconnect with backoff may cure."""
        ...

    def connect(self) -> LiveSession:
        """A session. Raises SourceRefused, or one of `transient_errors`."""
        ...


def looks_like_mail(head: bytes) -> bool:
    """True when `head` (the first bytes of a file) starts with RFC 5322 header lines.

    The first line must be a header, and the header lines before the first blank or non-header
    line must include one that every mail has, so a PNG or a text note is not a mail. A body that
    starts without the blank line (seen in real mail) still counts, and so do a BOM and lines of
    only spaces before the first header, which the parser skips too.
    """
    head = skip_preamble(head)
    lines = re.split(rb"\r?\n", head)
    if len(head) >= _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off
    known = False
    for i, line in enumerate(lines):
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t") and i > 0:
            continue
        if not HEADER_LINE.match(line):
            break
        known = known or line.split(b":", 1)[0].strip().lower() in _KNOWN_HEADERS
    return known


def _is_blank(line: bytes) -> bool:
    return line in (b"\n", b"\r\n")


_BOUNDARY = re.compile(rb"""^content-type:[^\n]*?\bboundary\s*=\s*(?:"([^"\r\n]+)"|([^";\s]+))""", re.I | re.M)
_HEADERS_END = re.compile(rb"\r?\n\r?\n")


def looks_complete(raw: bytes) -> bool:
    """False when `raw` is visibly cut short, as a mail is while it is being written: it stops in
    its header block, or it is a multipart whose closing delimiter has not come. (A cut in a
    single-part body cannot be told from its end.)"""
    end = _HEADERS_END.search(raw)
    if end is None:
        return False
    headers = re.sub(rb"\r?\n[ \t]+", b" ", raw[:end.start()])  # unfolded
    boundary = _BOUNDARY.search(headers)
    if boundary is None:
        return True
    delimiter = b"\n--" + (boundary.group(1) or boundary.group(2)).strip() + b"--"
    return delimiter in raw[end.start():]


def _being_written(f: BinaryIO) -> bool:
    """Whether the file changed so recently that a writer may still be at it (a mail cut short in
    an older file is read as it is: nothing received is lost)."""
    return time.time() - os.fstat(f.fileno()).st_mtime < STILL_WRITTEN_SECONDS


def _still_written(source: str) -> SourceError:
    return SourceError(source, "incomplete, perhaps still being written: read on the next run")


def _read_mbox(path: str, f: BinaryIO) -> Iterator[RawMail | SourceError]:
    """Split an mbox stream on "From " lines at the start or after a blank line, one message in memory.

    The blank line before each separator belongs to the mbox format, not the message, and is
    dropped (as Python's mailbox module does). ">From " quoting is NOT undone: the bytes are what
    the file holds, and a parser reads ">From" in a body as text anyway. The last message waits
    for the next run when it is cut short in a file just written: a mail program is appending it.
    Lines are only scanned: a message is read whole once its end is known (a list of its lines
    would hold a big mail about twice more).
    """
    index, pos, previous = 0, 0, b"\n"
    start: int | None = None
    for line in f:
        if line.startswith(b"From ") and _is_blank(previous):
            if start is not None:
                yield _mbox_message(path, index, f, start, pos, previous)
                index += 1
            start, previous = pos + len(line), line
            pos = start
            continue
        pos += len(line)
        previous = line
    if start is not None:
        last = _mbox_message(path, index, f, start, pos, previous)
        # mbox writers end every message with a line break (and a blank line): its lack is a cut too.
        torn = (isinstance(last, RawMail) and not (previous.endswith(b"\n") and looks_complete(last.raw))
                and _being_written(f))
        yield _still_written(last.source) if torn else last


def _mbox_message(path: str, index: int, f: BinaryIO, start: int, end: int, last_line: bytes) -> RawMail | SourceError:
    """Message `index`: the bytes from `start` to `end` of the file, without a blank last line."""
    if end > start and _is_blank(last_line):
        end -= len(last_line)
    if end <= start:
        return SourceError(f"mbox:{path}:{index}", "empty message")
    return RawMail(f"mbox:{path}:{index}", _read_at(f, start, end - start), None)


def _read_at(f: BinaryIO, offset: int, size: int) -> bytes:
    """`size` bytes of `f` from `offset`, leaving its position (and its line iterator) alone."""
    chunks = []
    while size > 0:
        chunk = os.pread(f.fileno(), size, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset, size = offset + len(chunk), size - len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _is_maildir(path: str) -> bool:
    return all(os.path.isdir(os.path.join(path, sub)) for sub in ("cur", "new", "tmp"))


def _maildir(path: str) -> Iterator[RawMail | SourceError]:
    """Messages in new/ and cur/ (tmp/ holds deliveries in progress), sorted by key."""
    entries = []
    for sub in ("new", "cur"):
        try:
            names = os.listdir(os.path.join(path, sub))
        except OSError as exc:
            yield SourceError(f"maildir:{path}:{sub}", _reason(exc))
            continue
        entries += [(name.split(":2,")[0], sub, name) for name in names if not name.startswith(".")]
    for key, sub, name in sorted(entries):
        source = f"maildir:{path}:{key}"
        try:
            with open(os.path.join(path, sub, name), "rb") as f:
                raw = f.read()
        except OSError as exc:
            yield SourceError(source, _reason(exc))
            continue
        yield RawMail(source, raw, None)


def _reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "path does not exist"
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def _file(path: str, quiet: bool = False) -> Iterator[RawMail | SourceError]:
    """One file: an mbox (starts with "From "), a single message (RFC 5322 or an Outlook .msg), or
    not a mail at all. A compound file named .msg is kept even when damaged: the parser flags it.

    With `quiet`, a file that is not a mail is skipped instead of reported.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
            if head.startswith(b"From "):
                f.seek(0)
                yield from _read_mbox(path, f)
                return
            outlook = not quiet and head.startswith(OLE_MAGIC)  # a .msg: a compound file, judged whole below
            if not outlook and not looks_like_mail(head):
                if not quiet:
                    yield SourceError(f"file:{path}", "not a mail file")
                return
            f.seek(0)
            raw = f.read()  # not head + the rest: that holds the mail twice
            if outlook and not (path.lower().endswith(".msg") or is_outlook_message(raw)):
                yield SourceError(f"file:{path}", "not a mail file")  # a .doc or .xls, not an Outlook item
                return
            if not outlook and not looks_complete(raw) and _being_written(f):
                yield _still_written(f"file:{path}")  # being copied into the folder right now
                return
    except OSError as exc:
        yield SourceError(f"file:{path}", _reason(exc))
        return
    yield RawMail(f"file:{path}", raw, None)


def _folder(path: str) -> Iterator[RawMail | SourceError]:
    """Every mail under a folder, recursively, sorted, hidden files and folders skipped."""
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        yield SourceError(f"file:{path}", _reason(exc))
        return
    for name in names:
        if name.startswith("."):
            continue
        full = os.path.join(path, name)
        if os.path.isdir(full) and os.path.islink(full):
            continue  # like os.walk: a linked folder could loop back on itself
        if os.path.isdir(full):
            yield from (_maildir(full) if _is_maildir(full) else _folder(full))
        elif os.path.isfile(full):
            # In a folder, a README or a scan beside the mails is not an error; a file named like a
            # mail (or with no extension, as mbox files often are) that is not one is reported.
            yield from _file(full, quiet=os.path.splitext(name)[1].lower() not in _MAIL_EXTENSIONS)


def iter_mail(paths: Iterable[str]) -> Iterator[RawMail | SourceError]:
    """Every message found at `paths`, in the given order; within a path in a fixed order."""
    for given in paths:
        path = os.path.abspath(os.fspath(given))
        if not os.path.exists(path):
            yield SourceError(f"file:{path}", "path does not exist")
        elif os.path.isdir(path):
            yield from (_maildir(path) if _is_maildir(path) else _folder(path))
        elif os.path.isfile(path):
            yield from _file(path)
        else:
            yield SourceError(f"file:{path}", "not a regular file or folder")
