"""A mail's long base64 runs, cut out of the copy the stdlib parser reads (pipeline/mime.py).

The stdlib parser holds a part's body as a list of its lines, then joins them: several copies of
a big attachment at once. It needs only the structure, so runs of base64 lines this long are cut
out of the copy it reads, each left as one marker line, and put back when the part is decoded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

CUT_MIN = 64 * 1024
# A run is whole lines of base64 characters, each ended by an LF or a CR LF. A pattern repeating a
# line (`(?:...\r?\n)+`) keeps a backtracking entry per line, twice the run's size for a big one,
# and its possessive form matches wrongly in Python 3.11.2, Debian 12's (the last line of a body
# without a final line break was taken into the run and its last character lost). So runs are
# found with patterns that repeat one character class or start with a fixed byte, which the regex
# engine scans for in C: stretches of base64 characters and line breaks from a line start, less the
# lines in them that are empty or hold a CR of their own.
_BASE64_STRETCH = re.compile(rb"(?m)^[A-Za-z0-9+/=][A-Za-z0-9+/=\r\n]*")
_BEFORE_EMPTY_LINE = re.compile(rb"\n\r?(?=\n)")  # a line's end, then an empty line's CR if it has one
_LONE_CR = re.compile(rb"\r(?!\n)")


@dataclass(frozen=True)
class Cuts:
    """The runs cut out of the copy of `raw` the parser read: run n, raw[start:end] without its last
    line break, became the line `<marker>n`."""

    raw: bytes
    marker: bytes
    spans: tuple[tuple[int, int], ...]

    def restore(self, data: bytes, base64: bool) -> bytes | memoryview:
        """`data`, a part's payload as the parser kept it, with its runs put back; a payload that is
        one run alone is a view of the mail's bytes, not a copy. In `base64` the line breaks around
        the run do not count (the decoder skips them); anywhere else the bytes are the mail's exactly."""
        if self.marker not in data:
            return data
        pieces = re.split(re.escape(self.marker) + rb"(\d+)", data)  # text, n, text, n, ..., text
        runs = [self.spans[int(n)] for n in pieces[1::2]]
        view = memoryview(self.raw)
        around = (pieces[0], pieces[2]) if len(runs) == 1 else (b"-",)
        if all(not (text.strip() if base64 else text) for text in around):
            return view[runs[0][0]:runs[0][1]]
        out = bytearray(pieces[0])
        for (start, end), text in zip(runs, pieces[2::2], strict=True):
            out += view[start:end]
            out += text
        return bytes(out)


def base64_runs(raw: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of whole base64 lines in `raw`, the last line break included."""
    for stretch in _BASE64_STRETCH.finditer(raw):
        start, stop = stretch.span()
        not_lines = [(m.start() + 1, m.end() + 1) for m in _BEFORE_EMPTY_LINE.finditer(raw, start, stop)]
        for cr in _LONE_CR.finditer(raw, start, stop):
            before, after = raw.rfind(b"\n", start, cr.start()), raw.find(b"\n", cr.start(), stop)
            not_lines.append((before + 1 if before >= 0 else start, after + 1 if after >= 0 else stop))
        for line_start, line_end in sorted(not_lines):
            if line_start > start:
                yield start, line_start
            start = max(start, line_end)
        end = raw.rfind(b"\n", start, stop) + 1  # a line the stretch ends inside is not whole
        if end > start:
            yield start, end


def cut_runs(raw: bytes) -> tuple[bytes, Cuts | None]:
    """(what the parser reads, the runs cut out of it)."""
    runs = [(start, end) for start, end in base64_runs(raw) if end - start >= CUT_MIN]
    if not runs:
        return raw, None
    marker = b"intakecut" + os.urandom(8).hex().encode() + b"n"  # no mail can know it in advance
    pieces, spans, pos = [], [], 0
    for n, (start, end) in enumerate(runs):
        newline = b"\r\n" if raw[end - 2:end] == b"\r\n" else b"\n"
        pieces += [raw[pos:start], marker + str(n).encode() + newline]
        spans.append((start, end - len(newline)))
        pos = end
    pieces.append(raw[pos:])
    return b"".join(pieces), Cuts(raw, marker, tuple(spans))
