"""uuencoded files in mail: `begin 644 name`, the encoded lines, `end`.

Old clients (Eudora, Outlook Express, scripts mailing a file) still write them, either straight in
a plain text body or in a part with Content-Transfer-Encoding x-uuencode. Decoding is lenient, as
mail transports strip trailing spaces and some encoders write a character too many, and a damaged
file is still returned, with the problem named, so that nothing received is lost.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

_BEGIN = re.compile(r"begin ([0-7]{3,4}) (\S.*?)[ \t\r]*")
_END = re.compile(r"end[ \t\r]*")
_ENCODED_LINE = re.compile(r"[\x20-\x60]+\r?")


@dataclass
class UuFile:
    name: str  # as the begin line gives it
    data: bytes
    problem: str | None = None  # why the file may be damaged or incomplete


def split_uuencoded(text: str) -> tuple[str, list[UuFile]]:
    """`text` without the uuencoded files in it, and those files in order.

    A begin line with no encoded line after it is left as text. Without an end line the file runs
    as far as lines look encoded; a line inside a file that does not decode is skipped. Both are
    named in `problem`.
    """
    lines = text.split("\n")
    kept: list[str] = []
    files: list[UuFile] = []
    i = 0
    while i < len(lines):
        begin = _BEGIN.fullmatch(lines[i])
        end = _end_line(lines, i + 1) if begin else None
        encoded = lines[i + 1 : end] if end is not None else _encoded_run(lines, i + 1)
        if not begin or not any(line.strip() for line in encoded):
            kept.append(lines[i])
            i += 1
            continue
        data, damaged = _decode(encoded)
        problems = [] if end is not None else ["no end line: the file may be cut short"]
        if damaged:
            problems.append(f"{len(damaged)} line(s) that do not decode skipped (the first is line {damaged[0]} "
                            "after the begin line)")
        files.append(UuFile(begin.group(2), data, "; ".join(problems) or None))
        i = end + 1 if end is not None else i + 1 + len(encoded)
    return "\n".join(kept), files


def _end_line(lines: list[str], start: int) -> int | None:
    """Index of the end line of the file starting at `start`; None when another begins first."""
    for j in range(start, len(lines)):
        if _END.fullmatch(lines[j]):
            return j
        if _BEGIN.fullmatch(lines[j]):
            return None
    return None


def _encoded_run(lines: list[str], start: int) -> list[str]:
    j = start
    while j < len(lines) and _ENCODED_LINE.fullmatch(lines[j]):
        j += 1
    return lines[start:j]


def _decode(lines: list[str]) -> tuple[bytes, list[int]]:
    """The bytes of the encoded lines, and the 1-based numbers of the lines that did not decode."""
    out, damaged = bytearray(), []
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line:  # a blank line: binascii would read 32 zero bytes from it
            continue
        try:
            raw = line.encode("ascii")
            out += binascii.a2b_uu(raw)
        except UnicodeEncodeError:
            damaged.append(n)
        except binascii.Error:
            # Some encoders write a few characters too many: keep what the length character announces.
            try:
                out += binascii.a2b_uu(raw[: (((raw[0] - 32) & 63) * 4 + 5) // 3])
            except binascii.Error:
                damaged.append(n)
    return bytes(out), damaged
