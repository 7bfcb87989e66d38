"""Whether two files hold the same text: the signed PDF of a report and its .docx, sent together.

A file's fingerprint is the set of its 5-word shingles over folded body text (tone marks, case and
punctuation ignored), so a PDF export and its Word source agree even where line breaks, numbering
labels and hyphenation differ; two reports written from one template share their headings and
set phrases, but few runs of five words.
"""

from __future__ import annotations

import hashlib

from .model import Block
from .text import fold, tokens

SHINGLE = 5
# At or above this the two files are one text: a real signed PDF and its .docx score 1.0, two units'
# reports written from one template with only the names changed 0.57 to 0.84 (the test fixtures).
SAME_TEXT = 0.9


def fingerprint(blocks: list[Block]) -> frozenset[int]:
    """The 5-word shingles of the body blocks, each hashed to 64 bits (stable across processes, storable)."""
    words = tokens(fold(" ".join(b.full_text for b in blocks if b.origin == "body")))
    return frozenset(_hash(" ".join(words[i:i + SHINGLE])) for i in range(max(len(words) - SHINGLE + 1, 0)))


def similarity(a: frozenset[int], b: frozenset[int]) -> float:
    """Jaccard similarity of two fingerprints, 0..1 (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def same_text(a: frozenset[int], b: frozenset[int]) -> bool:
    """Whether two fingerprints are of one text, told apart from two reports of one template."""
    return similarity(a, b) >= SAME_TEXT


def _hash(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "big")
