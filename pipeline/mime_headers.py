"""Header, parameter and charset decoding for mail as clients really write it.

Raw UTF-8 or windows-1258 bytes in headers, RFC 2047 words inside quoted file names, UTF-8
characters split across encoded-words, unquoted names with spaces, wrong charsets: each is decoded
here by hand, and never raises.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from datetime import datetime, timezone
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from urllib.parse import unquote_to_bytes

from extractors.model import Flag
from extractors.text import repair
from rules.vocabulary import MailFlag

# --- charsets -------------------------------------------------------------------------------------

# Names mail clients use that Python lacks, or supersets that decode more real-world text.
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949",
    "euc-kr": "cp949", "shift_jis": "cp932", "x-sjis": "cp932", "big5": "big5hkscs", "tis-620": "cp874",
    "windows-874": "cp874", "x-mac-cyrillic": "mac_cyrillic", "unicode-1-1-utf-7": "utf-7", "iso-8859-8-i": "iso8859-8",
}
# Python codecs that no mail can mean by a charset name.
_NOT_CHARSETS = {"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "mbcs", "oem"}


def _codec(charset: str | None) -> str | None:
    name = (charset or "").strip().strip("\"'").lower().split("*")[0]  # "utf-8*vi": RFC 2231 language
    name = _ALIASES.get(name, name)
    for candidate in (name, name[2:] if name.startswith("x-") else ""):
        try:
            info = codecs.lookup(candidate) if candidate else None
        except (LookupError, UnicodeError):  # UnicodeError: raw 8-bit bytes in the name
            continue
        if info and info._is_text_encoding and info.name not in _NOT_CHARSETS:  # noqa: SLF001 - codecs' only mark of a text encoding (not base64, rot13...)
            return info.name
    return None


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Bytes -> (text, flag kind or None): the declared charset, then UTF-8, then a fallback."""
    codec, problem = _codec(charset), None
    if codec == "latin-1":  # iso-8859-1 from Windows is really windows-1252 (curly quotes, €)
        try:
            return data.decode("cp1252"), None
        except UnicodeDecodeError:
            return data.decode("latin-1"), None
    if charset and not codec:
        problem = MailFlag.CHARSET_UNKNOWN
    elif codec:
        try:
            return data.decode(codec), None
        except UnicodeDecodeError:
            problem = MailFlag.CHARSET_ERROR
        if codec not in ("utf-8", "ascii"):
            try:
                return data.decode("utf-8"), problem
            except UnicodeDecodeError:  # mislabelled or damaged: keep the reading with fewer holes
                texts = [data.decode(codec, "replace"), data.decode("utf-8", "replace")]
                return min(texts, key=lambda t: t.count("\ufffd")), problem
    try:
        return data.decode("utf-8"), problem
    except UnicodeDecodeError:
        # Mostly-UTF-8 with a damaged byte reads best as UTF-8; anything else as latin-1, which
        # keeps every byte.
        text = data.decode("utf-8", "replace")
        bad = text.count("\ufffd")
        good = sum(1 for c in text if ord(c) > 127) - bad
        return (text if good > bad else data.decode("latin-1")), problem or MailFlag.CHARSET_UNKNOWN


def _has_8bit(value: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in value)


def _decode_8bit(value: str, hint: str | None) -> str:
    """Raw 8-bit bytes (kept as surrogates) -> text: UTF-8, else the hinted charset, else a fallback."""
    if not _has_8bit(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    for codec in ("utf-8", _codec(hint)):
        try:
            return data.decode(codec) if codec else decode_bytes(data, None)[0]
        except UnicodeDecodeError:
            pass
    return decode_bytes(data, None)[0]


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")


def to_text(value: str, hint: str | None = None) -> str:
    """A header value as parsed from bytes (8-bit bytes kept as surrogates) -> real text.

    Encoded-words are left as they are, raw bytes and all: `decode_words` decodes them by their
    own charset. Decoding their raw bytes here as well would decode them twice
    ("=?iso-8859-1?Q?Fr\\xf6sche?=" read as "FrÃ¶sche").
    """
    if not _has_8bit(value):
        return value
    pieces, pos = [], 0
    for m in _ENCODED_WORD.finditer(value):
        pieces += [_decode_8bit(value[pos : m.start()], hint), m.group(0)]
        pos = m.end()
    return "".join(pieces) + _decode_8bit(value[pos:], hint)


# --- headers and parameters -----------------------------------------------------------------------

# "Name: value" (RFC 5322 field name: printable ASCII but ":")
HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_BLANK_LINES = re.compile(rb"(?:[ \t]*\r?\n)+")


def skip_preamble(raw: bytes) -> bytes:
    """The message from its first header line on: without the BOM a Windows editor writes, nor
    the lines of only spaces (or nothing) some tools write before the headers."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    blank = _BLANK_LINES.match(raw)
    return raw[blank.end():] if blank and HEADER_LINE.match(raw, blank.end()) else raw


def b64decode_lenient(data: bytes) -> bytes:
    """Lenient base64: stray characters dropped, missing padding added."""
    data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    data = data[:-1] if len(data) % 4 == 1 else data
    return base64.b64decode(data + b"=" * (-len(data) % 4))


def decode_words(text: str, flags: list[Flag] | None = None) -> str:
    """Decode RFC 2047 encoded-words anywhere in `text`, also inside quotes.

    Adjacent words in one charset are joined as bytes before decoding, because Outlook and Gmail
    split long names at a fixed length, sometimes in the middle of a UTF-8 character.
    """
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset, pos = "", 0

    def flush() -> None:
        if pending:
            decoded, problem = decode_bytes(b"".join(pending), pending_charset)
            if problem and flags is not None:
                flags.append(Flag(problem, f"encoded-word charset {pending_charset!r}"))
            out.append(decoded)
            pending.clear()

    for m in _ENCODED_WORD.finditer(text):
        between = text[pos : m.start()]
        if between and not (pending and between.isspace()):  # space between words is not text
            flush()
            out.append(between)
        if m.group(1).lower() != pending_charset:
            flush()
        pos, pending_charset = m.end(), m.group(1).lower()
        raw = m.group(3).encode("utf-8", "surrogateescape")
        try:
            pending.append(binascii.a2b_qp(raw, header=True) if m.group(2) in "qQ" else b64decode_lenient(raw))
        except (binascii.Error, ValueError):
            flush()
            out.append(_decode_8bit(m.group(0), None))
    flush()
    return "".join(out) + text[pos:]


_PARAM = re.compile(r'[\s;]*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\["\\]?)*)"?[^;]*|([^;]*))')


def split_params(value: str) -> tuple[str, list[tuple[str, str]]]:
    """Split 'type/sub; a=1; b="x; y"' into the main value and (name, value) pairs.

    Lenient on purpose: an unquoted value runs to the next ";" (so "name=This is a test.txt" keeps
    its spaces), and a backslash only escapes a quote or a backslash (so quoted Windows paths keep
    their separators).
    """
    main, _, rest = value.partition(";")
    params, i = [], 0
    while i < len(rest):
        m = _PARAM.match(rest, i)
        if not m:  # garbage without "=": skip to the next parameter
            end = rest.find(";", i)
            i = len(rest) if end < 0 else end + 1
            continue
        quoted = m.group(2)
        val = re.sub(r'\\(["\\])', r"\1", quoted) if quoted is not None else (m.group(3) or "").strip()
        params.append((m.group(1).lower(), val))
        i = max(m.end(), i + 1)
    return main.strip(), params


def get_param(params: list[tuple[str, str]], key: str, flags: list[Flag]) -> str | None:
    """One parameter, decoded: RFC 2231 (continuations, charset) first, then the plain form."""
    sections: dict[int, tuple[str, bool]] = {}
    for name, val in params:
        m = re.fullmatch(re.escape(key) + r"\*(\d+)(\*?)", name)
        if m:
            sections.setdefault(int(m.group(1)), (val, bool(m.group(2))))
        elif name == key + "*" and not sections:
            sections[0] = (val, True)
    if sections:
        charset, data = None, bytearray()
        for index in sorted(sections):
            val, encoded = sections[index]
            if encoded and index == min(sections) and val.count("'") >= 2:
                charset, _, val = val.split("'", 2)
            data += unquote_to_bytes(val) if encoded else val.encode("utf-8", "surrogateescape")
        text, problem = decode_bytes(bytes(data), charset or "utf-8")
        if problem:
            flags.append(Flag(problem, f"{key}* charset {charset!r}"))
        return decode_words(text, flags)  # some clients put encoded-words in RFC 2231 values too
    plain = next((val for name, val in params if name == key), None)
    return decode_words(plain, flags) if plain is not None else None


def parse_date(value: str | None) -> datetime | None:
    text = re.sub(r"\([^()]*\)", " ", value or "").strip()  # comments such as "(PDT)"
    try:
        d = parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return d if d is None or d.tzinfo else d.replace(tzinfo=timezone.utc)  # "-0000": UTC, zone unknown


def msg_ids(value: str | None) -> list[str]:
    return re.findall(r"<([^<>\s]+)>", value or "") or (value or "").split()


class Headers:
    """The raw header list of one message (unfolded, 8-bit bytes as surrogates)."""

    def __init__(self, msg: Message):
        try:
            items = list(msg.raw_items())
        except Exception:  # noqa: BLE001 - the email package can raise anything on a broken header block
            items = []
        self.items = [(str(k).strip().lower(), re.sub(r"\r?\n|\r", "", str(v))) for k, v in items]

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.items if k == name), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.items if k == name]


def addresses(values: list[str], hint: str | None) -> list[tuple[str, str]]:
    """(display name, lowercased address) pairs; names decoded after splitting, so commas in them are safe."""
    texts = [to_text(v, hint) for v in values]
    pairs = getaddresses(texts)
    if texts and not any("@" in addr for _, addr in pairs):  # the address itself is encoded: decode first
        pairs = getaddresses([decode_words(t) for t in texts])
    return [(repair(decode_words(name)).replace("\n", " "), addr.strip().lower())
            for name, addr in pairs if addr.strip()]


_AUTO_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|no_reply|do-?not-?reply)([-+._].*)?$")


def is_auto(h: Headers, from_addr: str | None, ctype: str) -> bool:
    """RFC 3834 and the usual signs of machine-sent mail: bounces and vacation replies."""
    auto = (h.get("auto-submitted") or "").strip().lower()
    return bool(
        (auto and not re.match(r"no\b", auto))
        or any(h.get(name) is not None for name in ("x-autoreply", "x-autorespond"))
        or (h.get("precedence") or "").strip().lower() in ("junk", "auto_reply")
        or (from_addr and _AUTO_SENDERS.match(from_addr.split("@")[0]))
        or ctype == "multipart/report"
    )


def is_list_mail(h: Headers) -> bool:
    """Signs of mail sent through a list or in bulk. Weaker than `is_auto`: a unit's report reaches
    the office through a group address too, and old vacation programs say "Precedence: bulk"."""
    return (any(h.get(name) is not None for name in ("list-id", "list-unsubscribe"))
            or (h.get("precedence") or "").strip().lower() in ("bulk", "list"))
