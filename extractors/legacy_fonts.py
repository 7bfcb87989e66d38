"""Vietnamese text typed in pre-Unicode fonts (TCVN3/ABC ".VnTime", VNI "VNI-Times") -> Unicode.

Old reports, and .doc files converted from them, still carry text whose *bytes* were meant for a
legacy font: opened with any other font (or read as text) "Đảng ủy" shows up as "§¶ng ñy" (TCVN3)
or "Ñaûng uûy" (VNI). The encoding is a property of the font, so a run whose font name says
TCVN3/VNI is converted outright; text without a telling font (PDF text, runs in Times New Roman
that kept legacy bytes) is converted only when its character statistics say so.

TCVN3 (TCVN 5712:1993, VN3) maps single bytes 0xA1-0xFF to Vietnamese letters: all lower-case
letters with tones, but only the seven capitals Ă Â Ê Ô Ơ Ư Đ. Capitals with tones came from a
second font (".VnTimeH") drawing the lower-case codes as capitals, so the font name decides case.
VNI writes a base letter followed by a mark character ("aù" = "á"), with a few letters precomposed.
Both are seen as cp1252/latin-1 code points, which is how Word and PDF text layers hand them over.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

# ---- TCVN3 ---------------------------------------------------------------------------------------
# (Unicode letters, their TCVN3 code points) in the same order: a, ă, â rows, then đ, e, ê, i, o, ô,
# ơ, u, ư, y; each row is base, grave, hook, tilde, acute, dot below.
_TCVN3_PAIRS = (
    ("aàảãáạ", "a\xb5\xb6\xb7\xb8\xb9"),
    ("ăằẳẵắặ", "\xa8\xbb\xbc\xbd\xbe\xc6"),
    ("âầẩẫấậ", "\xa9\xc7\xc8\xc9\xca\xcb"),
    ("đ", "\xae"),
    ("eèẻẽéẹ", "e\xcc\xce\xcf\xd0\xd1"),
    ("êềểễếệ", "\xaa\xd2\xd3\xd4\xd5\xd6"),
    ("iìỉĩíị", "i\xd7\xd8\xdc\xdd\xde"),
    ("oòỏõóọ", "o\xdf\xe1\xe2\xe3\xe4"),
    ("ôồổỗốộ", "\xab\xe5\xe6\xe7\xe8\xe9"),
    ("ơờởỡớợ", "\xac\xea\xeb\xec\xed\xee"),
    ("uùủũúụ", "u\xef\xf1\xf2\xf3\xf4"),
    ("ưừửữứự", "\xad\xf5\xf6\xf7\xf8\xf9"),
    ("yỳỷỹýỵ", "y\xfa\xfb\xfc\xfd\xfe"),
    ("ĂÂÊÔƠƯĐ", "\xa1\xa2\xa3\xa4\xa5\xa6\xa7"),
)
TCVN3_DECODE: dict[str, str] = {}
for _uni, _legacy in _TCVN3_PAIRS:
    for _u, _c in zip(_uni, _legacy, strict=True):
        if _c != _u:
            TCVN3_DECODE[_c] = _u
TCVN3_ENCODE: dict[str, str] = {u: c for c, u in TCVN3_DECODE.items()}
_TCVN3_TABLE = str.maketrans(TCVN3_DECODE)

# ---- VNI -----------------------------------------------------------------------------------------
# Marks follow the base letter; capitals use their own (taller) mark glyphs.
_VNI_TONES = {"\u0301": ("ù", "Ù"), "\u0300": ("ø", "Ø"), "\u0309": ("û", "Û"), "\u0303": ("õ", "Õ"),
              "\u0323": ("ï", "Ï")}
# circumflex / breve combined with a tone are one mark character each
_VNI_HAT = {"": ("â", "Â"), "\u0301": ("á", "Á"), "\u0300": ("à", "À"), "\u0309": ("å", "Å"),
            "\u0303": ("ã", "Ã"), "\u0323": ("ä", "Ä")}
_VNI_BREVE = {"": ("ê", "Ê"), "\u0301": ("é", "É"), "\u0300": ("è", "È"), "\u0309": ("ú", "Ú"),
              "\u0303": ("ü", "Ü"), "\u0323": ("ë", "Ë")}
# letters VNI writes as one character: đ, ơ, ư, and i/ỵ with tones (an "i" + mark would not fit)
_VNI_SINGLE = {"đ": "ñ", "Đ": "Ñ", "ơ": "ô", "Ơ": "Ô", "ư": "ö", "Ư": "Ö",
               "í": "í", "Í": "Í", "ì": "ì", "Ì": "Ì", "ỉ": "æ", "Ỉ": "Æ", "ĩ": "ó", "Ĩ": "Ó",
               "ị": "ò", "Ị": "Ò", "ỵ": "î", "Ỵ": "Î"}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _build_vni() -> dict[str, str]:
    """Unicode letter -> VNI sequence, for every Vietnamese letter that is not plain ASCII."""
    enc: dict[str, str] = dict(_VNI_SINGLE)
    for lower in (True, False):
        pick = 0 if lower else 1
        for base in "aeiouy":
            b = base if lower else base.upper()
            for tone, marks in _VNI_TONES.items():
                enc.setdefault(_nfc(b + tone), b + marks[pick])
        for base in "aeo":  # â ê ô and their tones
            b = base if lower else base.upper()
            for tone, marks in _VNI_HAT.items():
                enc.setdefault(_nfc(b + "\u0302" + tone), b + marks[pick])
        a = "a" if lower else "A"
        for tone, marks in _VNI_BREVE.items():  # ă and its tones
            enc.setdefault(_nfc(a + "\u0306" + tone), a + marks[pick])
        for letter, code in (("ơ", "ô"), ("ư", "ö")):  # horn letters + tone mark
            ltr, cd = (letter, code) if lower else (letter.upper(), code.upper())
            for tone, marks in _VNI_TONES.items():
                enc[_nfc(ltr + tone)] = cd + marks[pick]
    return enc


VNI_ENCODE: dict[str, str] = _build_vni()
VNI_DECODE: dict[str, str] = {v: k for k, v in VNI_ENCODE.items()}
# Writers mix cases of marks (a capital base with a lower-case mark glyph): accept both, keep the base's case.
for _seq, _uni in list(VNI_DECODE.items()):
    if len(_seq) == 2 and _seq[0] not in "ôöÔÖ":
        VNI_DECODE.setdefault(_seq[0] + _seq[1].swapcase(), _uni)
_VNI_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(VNI_DECODE, key=len, reverse=True)))


# ---- conversion ----------------------------------------------------------------------------------
def _unpua(text: str) -> str:
    """Symbol-charset fonts put byte xx at U+F0xx; legacy bytes are what the tables need."""
    if any("\uf020" <= ch <= "\uf0ff" for ch in text):
        return "".join(chr(ord(ch) - 0xF000) if "\uf020" <= ch <= "\uf0ff" else ch for ch in text)
    return text


def decode_tcvn3(text: str, upper: bool = False) -> str:
    """TCVN3 code points -> NFC Unicode; `upper` for the capital fonts (.VnTimeH) that draw all as capitals."""
    out = _unpua(text).translate(_TCVN3_TABLE)
    return _nfc(out.upper() if upper else out)


def decode_vni(text: str) -> str:
    """VNI sequences -> NFC Unicode."""
    return _nfc(_VNI_PATTERN.sub(lambda m: VNI_DECODE[m.group(0)], _unpua(text)))


def encode_tcvn3(text: str) -> str:
    """Unicode -> TCVN3 code points (lower-case font; capitals with tones are lowered: tests use
    decode(upper=True) for .VnTimeH text). For tests and fixtures."""
    out = []
    for ch in _nfc(text):
        if ch in TCVN3_ENCODE or ch.isascii():
            out.append(TCVN3_ENCODE.get(ch, ch))
        else:
            out.append(TCVN3_ENCODE.get(ch.lower(), ch.lower()))  # "Ý" is 0xFD ("ý"), 0xDD is "í"
    return "".join(out)


def encode_vni(text: str) -> str:
    """Unicode -> VNI sequences. For tests and fixtures."""
    return "".join(VNI_ENCODE.get(ch, ch) for ch in _nfc(text))


@lru_cache(maxsize=512)  # called for every run of every document; a document has few fonts
def font_encoding(font: str | None) -> str | None:
    """"tcvn3", "tcvn3-upper", "vni" or None, from a font name (".VnTime", ".VnTimeH", "VNI-Times")."""
    if not font:
        return None
    name = font.strip().lstrip("_").split(",")[0].split("+")[-1].strip()
    low = name.lower()
    if low.startswith(".vn") or (low.startswith("vn") and not low.startswith(("vni", "vn-"))
                                  and _VN3_NAME.match(name)):
        # .VnTimeH, .VnArialH, ".VnCentury SchoolbookH": the trailing H (for "hoa", capitals)
        base = re.sub(r"[-\s]?(bold|italic|bolditalic|regular)$", "", name, flags=re.I)
        return "tcvn3-upper" if base.endswith("H") else "tcvn3"
    if low.startswith(("vni-", "vni ", "vni_")):
        return "vni"
    return None


# names seen without the leading dot in PDFs: "VnTime", "VnArialH", "VnTime-Bold"
_VN3_NAME = re.compile(r"^Vn[A-Z]")

# Letters in 0xA1-0xBF appear in TCVN3 text all the time and almost never in Unicode Vietnamese.
_TCVN3_ONLY = set("\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xb5\xb6\xb7\xb8\xb9\xbb\xbc\xbd\xbe")
# Latin-1 letters Unicode Vietnamese never uses; both legacy encodings do.
_FOREIGN = set("ÄÅÆÇËÎÏÐÑÖ×ØÛÜÞßäåæçëîïðñö÷øûüþ")
# Only VNI marks Unicode Vietnamese never writes ("viên", "quân", "hoá" have ê, â, á after a vowel)
_VNI_PAIR = re.compile("[aeiouyAEIOUYôÔöÖ][øûïåäüëØÛÏÅÄÜË]|[ñÑöÖ]")
_ANY_LEGACY = re.compile("[" + re.escape("".join(sorted(_TCVN3_ONLY | _FOREIGN))) + "]")


def detect(text: str) -> str | None:
    """Guess "tcvn3" or "vni" from character statistics, or None for text that looks like Unicode.

    Counts characters that only a legacy encoding produces: TCVN3 lives in 0xA1-0xBF, VNI in
    vowel + mark pairs; Latin-1 letters foreign to Vietnamese count for both. Short texts need
    more evidence, so a "§ 3" or a "©" in a Unicode paragraph is left alone.
    """
    if not text or text.isascii():
        return None
    if not _ANY_LEGACY.search(text):
        return None  # the common case, Unicode text: no evidence below (every VNI pair holds a _FOREIGN letter)
    letters = sum(1 for ch in text if ch.isalpha() or ch in _TCVN3_ONLY)
    if letters == 0:
        return None
    if any(ch.isalpha() and "\u0250" <= ch and not "\u1ea0" <= ch <= "\u1ef9" for ch in text):
        return None  # Cyrillic, Greek, CJK...: another script, whose « » are quotes, not TCVN3
    # real Vietnamese letters outside Latin-1 (ă, ơ, ư, đ, ạ...): the text is already Unicode
    real = sum(1 for ch in text if "\u0100" <= ch <= "\u024f" or "\u1ea0" <= ch <= "\u1ef9")
    if real >= 2 and real >= 0.05 * letters:
        return None
    tcvn_chars = [ch for ch in text if ch in _TCVN3_ONLY]
    foreign = [ch for ch in text if ch in _FOREIGN]
    vni_pairs = _VNI_PAIR.findall(text)
    need = max(2.0, 0.04 * letters)
    # TCVN3 needs at least one 0xA1-0xBF letter (á, à, ả, ă, â, ơ, ư, đ... are all there), so German
    # "ä ö ü ß" alone never qualifies; several *different* legacy letters, so a repeated "®" is a symbol.
    # VNI never writes 0xA1-0xBF, while TCVN3 letters after a vowel look like VNI marks ("cña" = "của"):
    # a fair share of 0xA1-0xBF letters decides for TCVN3
    if tcvn_chars and len(tcvn_chars) >= 0.2 * len(vni_pairs):
        evidence = len(tcvn_chars) + 0.5 * len(foreign)
        return "tcvn3" if len(set(tcvn_chars) | set(foreign)) >= 2 and evidence >= need else None
    if vni_pairs and len(set(vni_pairs)) >= 2 and len(vni_pairs) + 0.5 * len(foreign) >= need:
        return "vni"
    return None


def convert(text: str, encoding: str | None) -> str:
    """Decode `text` for an encoding as returned by `font_encoding`/`detect` (None: unchanged)."""
    if encoding == "tcvn3":
        return decode_tcvn3(text)
    if encoding == "tcvn3-upper":
        return decode_tcvn3(text, upper=True)
    if encoding == "vni":
        return decode_vni(text)
    return text


def convert_runs(runs: Sequence[tuple[str, str | None]]) -> tuple[list[str], str | None]:
    """Convert the runs of one paragraph/line: (text, font) -> texts, and the encoding found.

    Runs in a legacy font are converted by font; the other runs together are converted when their
    statistics say legacy (a paragraph is one author's typing, while single runs are too short to judge).
    """
    out: list[str] = []
    found: str | None = None
    unknown: list[int] = []
    for i, (text, font) in enumerate(runs):
        enc = font_encoding(font)
        if enc:
            out.append(convert(text, enc))
            found = found or enc.split("-")[0]
        else:
            out.append(text)
            if not text.isascii():
                unknown.append(i)
    if unknown:
        guess = detect("".join(runs[i][0] for i in unknown))
        if guess:
            for i in unknown:
                out[i] = convert(runs[i][0], guess)
            found = found or guess
    return out, found


__all__ = ["decode_tcvn3", "decode_vni", "encode_tcvn3", "encode_vni", "font_encoding", "detect", "convert",
           "convert_runs", "TCVN3_DECODE", "VNI_DECODE"]
