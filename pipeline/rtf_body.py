"""Outlook's RTF message bodies -> their words, or the HTML they carry (MS-OXRTFEX). Never raises.

A .msg whose body exists only as RTF holds either rich text or, marked \\fromhtml1, an HTML body
encapsulated in RTF: the tags sit in {\\*\\htmltag ...} groups and the RTF-only rendering between
\\htmlrtf and \\htmlrtf0. A small tokenizer reads both: only the words and line breaks matter here,
as for HTML bodies in pipeline.mime, and the permissively licensed RTF libraries either drop the
encapsulated HTML's structure or keep its RTF-only copies of the text.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, replace

_TOKEN = re.compile(rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|[\r\n]+|([^\\{}\r\n]+)", re.S)
# Groups that are not text: tables, metadata, pictures, field instructions (the result is kept).
_DESTINATIONS = {
    b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"object", b"header", b"headerl", b"headerr",
    b"headerf", b"footer", b"footerl", b"footerr", b"footerf", b"listtable", b"listoverridetable", b"rsidtbl",
    b"generator", b"xmlnstbl", b"fldinst", b"themedata", b"colorschememapping", b"latentstyles", b"datastore",
    b"filetbl", b"revtbl", b"pgptbl", b"objdata", b"nonshppict", b"footnote", b"annotation",
}
_BREAKS = {b"par": "\n", b"line": "\n", b"sect": "\n\n", b"page": "\n\n", b"row": "\n", b"tab": "\t",
           b"cell": "\t", b"emdash": "\u2014", b"endash": "\u2013", b"bullet": "\u2022", b"lquote": "\u2018",
           b"rquote": "\u2019", b"ldblquote": "\u201c", b"rdblquote": "\u201d", b"emspace": "\u2003",
           b"enspace": "\u2002"}  # fmt: skip
_SYMBOLS = {b"~": "\xa0", b"_": "\u2011", b"-": "", b"{": "{", b"}": "}", b"\\": "\\", b"\n": "\n", b"\r": "\n"}
# \fcharsetN of the font table -> code page (RTF 1.9.1), for \'hh bytes written in that font.
_FONT_CHARSETS = {0: 1252, 77: 10000, 128: 932, 129: 949, 130: 1361, 134: 936, 136: 950, 161: 1253, 162: 1254,
                  163: 1258, 177: 1255, 178: 1256, 186: 1257, 204: 1251, 222: 874, 238: 1250, 254: 437, 255: 850}


@dataclass(frozen=True)
class _Group:
    skip: bool = False  # a destination that is not text
    htmlrtf: bool = False  # RTF-only rendering of encapsulated HTML
    tag: bool = False  # inside {\*\htmltag ...}: HTML source
    uc: int = 1  # characters that stand in for each \uN
    codec: str = "cp1252"
    font_table: bool = False


def _codec(code_page: int | None, default: str) -> str:
    name = f"cp{code_page}" if code_page else ""
    try:
        return codecs.lookup(name).name if name else default
    except LookupError:
        return default


def rtf_to_text(rtf: bytes) -> tuple[str, bool]:
    """(text, is_html): the HTML an encapsulating RTF holds, else the rich text's words."""
    html = re.search(rb"\\fromhtml1?(?![a-zA-Z0-9])", rtf[:2048]) is not None
    out: list[str] = []
    pending = bytearray()  # \'hh bytes, decoded together: a multibyte code page splits characters
    state, stack, fonts, font = _Group(), [], {}, None
    star, skip_chars, pos = False, 0, 0

    def flush() -> None:
        if pending:
            out.append(pending.decode(state.codec, "replace"))
            pending.clear()

    def visible() -> bool:
        return not state.skip and (not html or state.tag or not state.htmlrtf)

    while pos < len(rtf):
        m = _TOKEN.match(rtf, pos)
        if m is None:  # a lone backslash at the end
            break
        pos = m.end()
        word, arg, hexbyte, symbol, brace, text = m.groups()
        if hexbyte is None:
            flush()
        if brace == b"{":
            stack.append(state)
            star = False
        elif brace == b"}":
            state = stack.pop() if stack else state
            skip_chars = 0
        elif word is not None:
            number = int(arg) if arg else None
            if star:  # {\*\dest ...}: skipped unless it is the HTML a reader needs
                star = False
                if not (html and word == b"htmltag"):
                    state = replace(state, skip=True)
                    continue
                state = replace(state, tag=True)
            if word == b"bin":  # raw bytes follow
                pos += max(number or 0, 0)
            elif word == b"fonttbl":
                state = replace(state, skip=True, font_table=True)
            elif state.font_table:
                if word == b"f":
                    font = number
                elif word == b"fcharset" and font is not None and number in _FONT_CHARSETS:
                    fonts[font] = _codec(_FONT_CHARSETS[number], state.codec)
                elif word == b"cpg" and font is not None:
                    fonts[font] = _codec(number, state.codec)
            elif word in _DESTINATIONS:
                state = replace(state, skip=True)
            elif word == b"ansicpg":
                state = replace(state, codec=_codec(number, state.codec))
            elif word == b"f" and number in fonts:
                state = replace(state, codec=fonts[number])
            elif word == b"htmlrtf":
                state = replace(state, htmlrtf=number != 0)
            elif word == b"uc":
                state = replace(state, uc=max(number or 0, 0))
            elif word == b"u" and number is not None:
                if visible():
                    out.append(chr(number % 0x10000))  # negative: the signed 16-bit form
                skip_chars = state.uc
            elif word in _BREAKS and visible():
                out.append(_BREAKS[word])
        elif symbol is not None:
            if symbol == b"*":
                star = True
            elif symbol in _SYMBOLS and visible():
                out.append(_SYMBOLS[symbol])
        elif hexbyte is not None:
            if skip_chars:
                skip_chars -= 1
            elif visible():
                pending.append(int(hexbyte, 16))
        elif text is not None:
            if skip_chars:
                dropped = min(skip_chars, len(text))
                text, skip_chars = text[dropped:], skip_chars - dropped
            if text and visible():
                out.append(text.decode(state.codec, "replace"))
    flush()
    joined = "".join(out).encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # \u pairs
    return joined, html
