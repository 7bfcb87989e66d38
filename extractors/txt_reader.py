"""Plain text files (.txt): one block per non-empty line, UTF-8 or UTF-16 with its BOM."""

from __future__ import annotations

import codecs

from .model import Block, Document, Flag, FlagKind
from .text import repair


def read_text(data: bytes) -> Document:
    text = decode_text(data)
    if text is None:
        return Document("txt", error="not UTF-8 or UTF-16 text",
                        flags=[Flag(FlagKind.UNREADABLE, "not UTF-8 or UTF-16 text")])
    blocks = [Block(text=line) for line in (repair(raw) for raw in text.splitlines()) if line]
    return Document("txt", blocks=blocks)


def decode_text(data: bytes) -> str | None:
    """The text of a UTF-8 (BOM or not) or UTF-16 (with its BOM) file; None for anything else."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
