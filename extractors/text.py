"""Vietnamese text in two forms: the display form and the folded key.

The display form is the author's words in correct NFC Unicode. The folded key is what every
comparison uses (headings, unit names, keywords, search): casefolded, diacritics removed, đ → d,
punctuation collapsed, so "ĐỀ CƢƠNG", "Đề cương" and "de cuong" meet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# A PDF glyph mix-up seen in real documents: U+01A3/U+01A2 (ƣ/Ƣ, "oi" with hook) for ư/Ư.
_GLYPH_FIXES = str.maketrans({"ƣ": "ư", "Ƣ": "Ư", "\u00a0": " ", "\u2007": " ", "\u202f": " "})
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\f\v]+")

# Old ("oà") and new ("òa") tone placement are both correct Vietnamese; keys must not care.
def _build_tone_table() -> dict[str, str]:
    """Map old-style tone placement (hoà, thuý) to the new style (hòa, thúy)."""
    table = {}
    for first, second in (("o", "a"), ("o", "e"), ("u", "y")):
        for tone in ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323"):
            old = unicodedata.normalize("NFC", first + second + tone)
            new = unicodedata.normalize("NFC", first + tone + second)
            for o, n in ((old, new), (old.upper(), new.upper()), (old.capitalize(), new.capitalize())):
                table[o] = n
    return table


_TONE_TABLE = _build_tone_table()
_TONE_PATTERN = re.compile("(?:" + "|".join(sorted(_TONE_TABLE, key=len, reverse=True)) + r")(?=\W|$)")


def repair(text: str) -> str:
    """Return the display form: NFC, glyph mix-ups fixed, invisible characters and odd spaces gone.

    Line breaks are kept; runs of spaces and tabs within a line become one space.
    """
    if not text:
        return ""
    if _clean(text):
        return text
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text.translate(_GLYPH_FIXES))
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip()


def _clean(text: str) -> bool:
    """Would `repair` give `text` back as it is? The common case, told by tests that run in C: every
    odd space, invisible character and line break is unprintable, and a regular expression for them
    costs several times more on a paragraph."""
    return (text.isprintable() and "ƣ" not in text and "Ƣ" not in text and "  " not in text
            and text[0] != " " and text[-1] != " " and unicodedata.is_normalized("NFC", text))


def normalize_tones(text: str) -> str:
    """Move tone marks to the new placement at the end of a word: "hoà" → "hòa", "thuý" → "thúy"."""
    return _TONE_PATTERN.sub(lambda m: _TONE_TABLE[m.group(0)], unicodedata.normalize("NFC", text))


def strip_diacritics(text: str) -> str:
    """Remove every diacritic; đ/Đ become d/D."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=65536)  # headings, titles and names are folded again and again
def fold(text: str) -> str:
    """The matching key: casefolded, without diacritics, words separated by single spaces."""
    text = repair(text).translate(_GLYPH_FIXES).casefold()
    return _NON_WORD.sub(" ", strip_diacritics(text)).strip()


def tokens(text: str) -> list[str]:
    """Folded words of a text."""
    key = fold(text)
    return key.split() if key else []
