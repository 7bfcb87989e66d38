"""One mail's bytes -> headers, body text, attached files and flags. Never raises.

The stdlib parser (compat32 policy) only splits the message into parts: it is the most forgiving
about broken structure and never raises when a header is read. Headers, parameters and charsets are
decoded by hand in pipeline.mime_headers, because real mail from units does what the standards forbid.
"""

from __future__ import annotations

import binascii
import hashlib
import html
import mimetypes
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from email import message_from_bytes
from email.errors import MultipartInvariantViolationDefect
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import TypeVar

from extractors import archives, formats
from extractors.docx_reader import OLE_MAGIC
from extractors.limits import safe_limits
from extractors.model import Flag, FlagKind
from extractors.text import repair
from pipeline.base64_cuts import Cuts, cut_runs
from pipeline.mime_headers import (
    Headers,
    addresses,
    b64decode_lenient,
    decode_bytes,
    decode_words,
    get_param,
    is_auto,
    is_list_mail,
    msg_ids,
    parse_date,
    skip_preamble,
    split_params,
    to_text,
)
from pipeline.msg import attached_message, message_tree
from pipeline.uuencode import UuFile, split_uuencoded
from rules.vocabulary import MailFlag, Origin

MAX_FORWARD_DEPTH = 5
_T = TypeVar("_T")
_D = TypeVar("_D")


@dataclass
class Attachment:
    filename: str  # display name, NFC, never a path
    content_type: str  # lowercased
    data: bytes
    part: str  # "2", "1.2", "2/member/name.docx", "3.rfc822.2", "1/uu1" (the first uuencoded file in part 1)
    origin: str  # an Origin (rules/vocabulary.py)


@dataclass
class ParsedMail:
    message_id: str | None = None
    subject: str = ""
    from_addr: str | None = None
    from_name: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: datetime | None = None
    received_at: datetime | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    auto_reply: bool = False
    body_text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: list[ParsedMail] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def content_key(self) -> str:
        return content_key(self)


def attachment_id(message: str, part: str) -> str:
    """The id of the attachment at `part` of the stored mail `message` (its sha256): attachments.id,
    and documents.id when the file is a document."""
    return f"{message}:{part}"


def find_attachment(raw: bytes, message: str, ident: str, digest: str) -> Attachment | None:
    """Attachment `ident` of the stored mail `message` whose bytes are `raw`, found again the way
    deriving found it (parse_mail), if its bytes still hash to `digest`: the database keeps each
    file only inside its raw mail. None when the mail has no such attachment (any longer)."""
    for att in parse_mail(raw).attachments:
        if attachment_id(message, att.part) == ident:
            return att if hashlib.sha256(att.data).hexdigest() == digest else None
    return None


def content_key(mail: ParsedMail) -> str:
    """Identity of a submission: its Message-ID and its files. Deliveries of one mail are equal
    whatever was added on the way (Received headers, a group address's footer or subject tag, a
    gateway's disclaimer); the body text counts only for a mail without a Message-ID."""
    h = hashlib.sha256()
    text = [] if mail.message_id else [mail.body_text]
    for piece in [mail.message_id or "", *text] + [hashlib.sha256(a.data).hexdigest() for a in mail.attachments]:
        data = piece.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big") + data)  # length-prefixed: pieces cannot run together
    return h.hexdigest()


# --- bodies and files -----------------------------------------------------------------------------

# Regular expressions are enough for mail bodies (only the words and line breaks matter), written
# so that unclosed tags cannot make them quadratic: no pattern scans past the next "<".
_HTML_HIDDEN = re.compile(r"<(script|style|title|head|noscript|template)\b|<!--", re.I)
_HTML_BREAK = re.compile(r"<(?:br|/?(?:p|div|tr|li|ul|ol|table|blockquote|pre|hr|h[1-6]|section|article|dt|dd|center))"
                         r"\b[^<>]*>", re.I)


_TAG_REST = re.compile(r"[^<>]*>")


def _strip_hidden(markup: str) -> str:
    lower, out, pos, unclosed = markup.lower(), [], 0, set()
    while m := _HTML_HIDDEN.search(markup, pos):
        out.append(markup[pos : m.start()])
        closing = f"</{m.group(1).lower()}" if m.group(1) else "-->"
        end = -1 if closing in unclosed else lower.find(closing, m.end())
        if end < 0 and closing not in ("</head", "</title"):
            return "".join(out)  # an unclosed script, style or comment runs to the end
        if end < 0:  # <head> and <title> may be left open: drop only the tag
            unclosed.add(closing)
        pos = m.end() if end < 0 else end + len(closing)
        rest = _TAG_REST.match(markup, pos) if closing != "-->" else None
        pos = rest.end() if rest else pos
    return "".join(out) + markup[pos:]


def html_to_text(markup: str) -> str:
    """Tags, scripts and styles removed, a line break for <br>, <p>, <div>..., entities unescaped."""
    text = re.sub(r"\s+", " ", _strip_hidden(markup))  # HTML collapses whitespace; tags make the breaks
    text = re.sub(r"<t[dh]\b[^<>]*>", " ", _HTML_BREAK.sub("\n", text), flags=re.I)
    text = html.unescape(re.sub(r"<[^<>]*>", "", text))
    return re.sub(r"\n{3,}", "\n\n", repair(text))


# Declared types that say nothing: the file name's extension says more.
_GENERIC_TYPES = {"application/octet-stream", "application/octetstream", "application/x-download",
                  "binary/octet-stream", "application/force-download", "application/download", "application/binary",
                  "application/unknown"}  # fmt: skip
_SIGNATURE_TYPES = {"application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature"}
_HEADER_SCAN = 1024 * 1024  # where a header block must have ended
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MEDIA_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")


def guess_type(name: str) -> str:
    # The formats intake knows first: the system's mime.types differs between machines.
    return formats.media_type(name) or mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


# A client's full path ("C:\\Users\\...", "/home/...", "../x"): only the last part names the file.
_CLIENT_PATH = re.compile(r"^(?:[A-Za-z]:)?[\\/]|^[A-Za-z]:|(?:^|[\\/])\.{1,2}(?:[\\/]|$)")
SLASH = "\u2215"  # DIVISION SLASH: looks like "/" to staff, is a path separator on no system


def clean_filename(name: str, n: int) -> str:
    """A display name that is never a path and hides no control characters; "" -> "attachment-<n>".

    Vietnamese document numbers hold a slash ("Báo cáo 12/BC-ĐU.docx"): inside a relative name it
    becomes U+2215 "∕" so the number stays readable. A name that is a client's full path (absolute,
    drive letter, "." or ".." parts) keeps only its last part, as mail clients do.
    """
    name = _CONTROL.sub("", re.sub(r"[\r\n\t]+", " ", name or ""))
    name = "".join(c for c in name if unicodedata.category(c) != "Cf")  # e.g. RTL override "cod.exe"
    if _CLIENT_PATH.search(name.strip()):
        name = re.split(r"[\\/]", name)[-1]
    name = repair(re.sub(r"\s*[\\/]+\s*", SLASH, name.strip()).strip(SLASH)).strip()
    if name in ("", ".", ".."):
        return f"attachment-{n}"
    stem, ext = os.path.splitext(name)
    return name if len(name) <= 200 else stem[: 200 - len(ext)] + ext if len(ext) <= 20 else name[:200]


def _payload_bytes(part: Message, cte: str, path: str, flags: list[Flag]) -> bytes:
    # The stored payload, not get_payload(): for 8-bit bodies that already decodes the bytes (with
    # "replace") by the declared charset, and the bytes are needed to decode them properly.
    payload = getattr(part, "_payload", None)
    if not isinstance(payload, (str, bytes)):
        return b""
    raw: bytes | memoryview = payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogateescape")
    cte = re.sub(r"[\s_-]", "", cte.split(";")[0].lower())  # "quoted printable", "base64;"
    cuts = getattr(part, "cuts", None)
    if cuts is not None:
        raw = cuts.restore(raw, base64="base64" in cte)
    if "base64" in cte:
        try:
            return binascii.a2b_base64(raw)
        except binascii.Error:  # bad padding: keep what decodes
            return b64decode_lenient(bytes(raw))
    if "quoted" in cte or cte == "qp":
        return binascii.a2b_qp(raw)
    if cte in ("xuuencode", "uuencode", "uue", "xuue"):
        files = split_uuencoded(bytes(raw).decode("latin-1"))[1]  # latin-1: one character per byte
        for uu in files[:1]:
            if uu.problem:
                flags.append(Flag(MailFlag.MIME_DEFECT, f"{path}: uuencoded {uu.name!r}: {uu.problem}"))
        return files[0].data if files else bytes(raw)
    return bytes(raw)


def _join(path: str, index: int) -> str:
    return f"{path}.{index}" if path else str(index)


class _Walker:
    """Collects the attachments, body pieces and forwarded messages of one message, in order."""

    def __init__(self, depth: int, flags: list[Flag], hint: str | None, budget: list[int] | None = None):
        self.depth, self.flags, self.hint = depth, flags, hint
        # Parts seen so far in the whole mail, forwarded messages included (shared with their walkers).
        self.budget = [0] if budget is None else budget
        self.limits = safe_limits()
        self.attachments: list[Attachment] = []
        self.forwarded: list[ParsedMail] = []
        self.plain: list[str] = []
        self.html: list[str] = []

    def walk(self, part: Message, path: str, root: bool, nesting: int = 0) -> None:
        for defect in getattr(part, "defects", None) or []:
            self.flags.append(Flag(MailFlag.MIME_DEFECT, f"{path or 'message'}: {type(defect).__name__}"))
        if nesting > self.limits.max_mime_depth:
            self.flags.append(Flag(MailFlag.MIME_LIMIT, f"{path}: nested deeper than {self.limits.max_mime_depth}"
                                   " levels (INTAKE_MAX_MIME_DEPTH), skipped"))
            return
        if not self.count_part(path):
            return
        h = Headers(part)
        ctype, ct_params = split_params(to_text(h.get("content-type") or "", self.hint))
        if not _MEDIA_TYPE.match(ctype.lower()):  # absent or garbage: text/plain, message/rfc822 in a digest
            ctype = part.get_default_type()
        ctype = ctype.lower()
        # The parser decided the structure; follow it even when the type we read disagrees.
        if part.is_multipart() and ctype in ("message/rfc822", "message/global"):
            # is_multipart(): the payload is the list of parts, which the stubs cannot tell
            self.forward(part.get_payload(), _join(path, 1) if root else path)  # type: ignore[arg-type]
        elif part.is_multipart() and not ctype.startswith("message/"):
            self.multipart(ctype, part.get_payload(), path, nesting)  # type: ignore[arg-type]
        else:
            self.leaf(part, h, ctype, ct_params, _join(path, 1) if root else path)

    def count_part(self, path: str) -> bool:
        """Count one more part of the mail; False (flagged once) past INTAKE_MAX_MIME_PARTS."""
        self.budget[0] += 1
        if self.budget[0] > self.limits.max_mime_parts:
            if self.budget[0] == self.limits.max_mime_parts + 1:  # one flag, not one per skipped part
                self.flags.append(Flag(MailFlag.MIME_LIMIT, f"{path}: more than {self.limits.max_mime_parts} parts "
                                       "(INTAKE_MAX_MIME_PARTS), the rest skipped"))
            return False
        return True

    def multipart(self, ctype: str, children: list, path: str, nesting: int) -> None:
        options = []
        for i, child in enumerate(children, 1):
            saved, (self.plain, self.html) = (self.plain, self.html), ([], [])
            self.walk(child, _join(path, i), False, nesting + 1)
            options.append((self.plain, self.html))
            self.plain, self.html = saved
        if ctype == "multipart/alternative":  # the same text twice: keep the plain one, else the HTML one
            chosen = next((o for o in options if o[0]), None) or next((o for o in options if o[1]), None)
            options = [chosen] if chosen else []
        for plain, markup in options:
            self.plain += plain
            self.html += markup

    def forward(self, payload: list, path: str) -> None:
        if not payload or not isinstance(payload[0], Message):
            return
        if self.depth + 1 > MAX_FORWARD_DEPTH:
            self.flags.append(Flag(MailFlag.DEPTH_LIMIT,
                                   f"{path}: forwarded messages nested deeper than {MAX_FORWARD_DEPTH}"))
            return
        sub = _parse_message(payload[0], f"{path}.rfc822", self.depth + 1, self.budget)
        self.forwarded.append(sub)
        self.attachments += [replace(a, origin=Origin.FORWARDED) for a in sub.attachments]
        self.flags += sub.flags

    def leaf(self, part: Message, h: Headers, ctype: str, ct_params: list, path: str) -> None:
        disposition, disp_params = split_params(to_text(h.get("content-disposition") or "", self.hint))
        maintype = ctype.split("/")[0]
        if ctype in _SIGNATURE_TYPES or maintype == "message":
            return  # detached signatures and delivery reports are not files the sender attached
        filename = get_param(disp_params, "filename", self.flags) or get_param(ct_params, "name", self.flags)
        if not filename and disposition.lower() != "attachment":
            if ctype in ("text/plain", "text/html") or maintype == "multipart":  # multipart here: no boundary
                return self.body(part, h, ctype, ct_params, path)
            if maintype == "text" or (maintype == "image" and h.get("content-id")):
                return  # other text parts and inline (cid) images are not files
        self.attach(part, h, ctype, filename or "", path)

    def body(self, part: Message, h: Headers, ctype: str, ct_params: list, path: str) -> None:
        data = _payload_bytes(part, h.get("content-transfer-encoding") or "", path, self.flags)
        charset = get_param(ct_params, "charset", self.flags)
        if not charset and ctype == "text/html":
            m = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_:.-]+)", data[:4096], re.I)
            charset = m.group(1).decode("ascii") if m else None
        text, problem = decode_bytes(data, charset)
        if problem:
            self.flags.append(Flag(problem, f"{path}: body charset {charset!r}"))
        if ctype == "text/plain":
            text, files = split_uuencoded(text)
            for n, uu in enumerate(files, 1):
                self.uuencoded(uu, f"{path}/uu{n}")
        text = html_to_text(text) if ctype == "text/html" else text
        if text.strip():
            (self.html if ctype == "text/html" else self.plain).append(text)

    def attach(self, part: Message, h: Headers, ctype: str, filename: str, path: str) -> None:
        data = _payload_bytes(part, h.get("content-transfer-encoding") or "", path, self.flags)
        name = clean_filename(filename, len(self.attachments) + 1)
        self.add_file(name, guess_type(name) if ctype in _GENERIC_TYPES else ctype, data, path, Origin.MIME)

    def uuencoded(self, uu: UuFile, path: str) -> None:
        if not self.count_part(path):
            return
        name = clean_filename(uu.name, len(self.attachments) + 1)
        if uu.problem:
            self.flags.append(Flag(MailFlag.MIME_DEFECT, f"{path}: uuencoded {name!r}: {uu.problem}"))
        self.add_file(name, guess_type(name), uu.data, path, Origin.UUENCODE)

    def add_file(self, name: str, ctype: str, data: bytes, path: str, origin: Origin) -> None:
        item, problems = attached_message(data, name)
        self.flags += problems
        if item is not None:  # a saved Outlook item (.msg) attached as a file: a forwarded mail
            return self.forward([item], path)
        fmt = formats.sniff(data, name)
        if not fmt.archive:
            claimed = formats.by_filename(name) or formats.by_media_type(ctype)
            if claimed is not None and claimed.archive:  # else the files it should hold vanish unsaid
                problem = "empty" if not data else f"no {claimed.label} signature"
                self.flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{name}: {problem}, so the files in it cannot be read"))
            self.attachments.append(Attachment(name, ctype, data, path, origin))
            return
        # Keep the archive itself (raw files are never lost), then each member as a file of its own.
        self.attachments.append(Attachment(name, fmt.media_type, data, path, origin))
        if len(data) > self.limits.max_attachment_bytes:
            self.flags.append(Flag(FlagKind.TOO_LARGE, f"{name}: {len(data)} bytes, above the"
                                   f" {self.limits.max_attachment_bytes}-byte limit (INTAKE_MAX_ATTACHMENT_MB):"
                                   " not opened"))
            return
        members, flags = archives.expand(data, name)
        self.flags += flags
        # the outer container: a zip inside winmail.dat is "tnef"
        origin = Origin.TNEF if fmt is formats.TNEF else Origin.ZIP
        for member, content in members:
            base = clean_filename(member.rsplit("/", 1)[-1], len(self.attachments) + 1)
            self.attachments.append(Attachment(base, guess_type(base), content, f"{path}/{member}", origin))


def _guard(flags: list[Flag], what: str, fn: Callable[[], _T], default: _D) -> _T | _D:
    """Run one step; a failure becomes a flag and the default, never an exception."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - a header the parser trips on must not lose the mail
        flags.append(Flag(MailFlag.MIME_ERROR, f"{what}: {type(exc).__name__}: {exc}"))
        return default


def _parse_message(msg: Message, prefix: str, depth: int, budget: list[int] | None = None) -> ParsedMail:
    flags: list[Flag] = []
    h, mail = Headers(msg), ParsedMail()
    ctype, ct_params = split_params(to_text(h.get("content-type") or ""))
    hint = next((v for k, v in ct_params if k == "charset"), None)  # for raw 8-bit headers
    mail.message_id = next(iter(msg_ids(h.get("message-id"))), None)
    mail.subject = _guard(flags, "subject",
                          lambda: repair(decode_words(to_text(h.get("subject") or "", hint), flags)), "")
    mail.subject = mail.subject.replace("\n", " ")
    sender = _guard(flags, "from", lambda: addresses(h.all("from")[:1], hint), [])
    if sender:
        mail.from_name, mail.from_addr = sender[0][0] or None, sender[0][1]
    mail.to = [a for _, a in _guard(flags, "to", lambda: addresses(h.all("to"), hint), [])]
    mail.cc = [a for _, a in _guard(flags, "cc", lambda: addresses(h.all("cc"), hint), [])]
    raw_date = h.get("date")
    mail.date = parse_date(raw_date)
    if raw_date is not None and mail.date is None:
        flags.append(Flag(MailFlag.BAD_DATE, f"Date: {raw_date.strip()[:100]}"))
    received = h.all("received")
    if received:  # the topmost Received: is the one the office's own server added
        mail.received_at = parse_date(received[0].rpartition(";")[2] if ";" in received[0] else "")
        if mail.received_at is None:
            flags.append(Flag(MailFlag.BAD_DATE, f"Received: {received[0].strip()[:100]}"))
    mail.in_reply_to = next(iter(msg_ids(h.get("in-reply-to"))), None)
    mail.references = msg_ids(h.get("references"))
    mail.auto_reply = _guard(flags, "auto-reply", lambda: is_auto(h, mail.from_addr, ctype.lower()), False)
    walker = _Walker(depth, flags, hint, budget)
    _guard(flags, "structure", lambda: walker.walk(msg, prefix, True), None)
    # List or bulk mail counts as automatic only without files: a report sent through a group
    # address carries its report, a list's vacation reply or newsletter nothing to count.
    mail.auto_reply = mail.auto_reply or (_guard(flags, "list headers", lambda: is_list_mail(h), False)
                                          and not walker.attachments)
    mail.body_text = repair("\n\n".join(walker.plain or walker.html))
    mail.attachments, mail.forwarded = walker.attachments, walker.forwarded
    unique: dict[tuple[str, str], Flag] = {}
    for f in flags:
        unique.setdefault((f.kind, f.detail), f)
    mail.flags = list(unique.values())
    return mail


def _unfolded_boundary(boundary: str, raw: bytes) -> str:
    """A boundary folded inside its quotes (`boundary="----=_Part\\r\\n\\t123"`), unfolded the way
    its delimiter lines in `raw` write it: without the line break, or without the fold altogether."""
    candidates = [re.sub(r"\r?\n|\r", "", boundary), re.sub(r"(?:\r?\n|\r)[ \t]*", "", boundary)]
    for candidate in candidates:
        if re.search(rb"(?m)^--" + re.escape(candidate.encode("utf-8", "surrogateescape")), raw):
            return candidate
    return candidates[0]


def _message_factory(raw: bytes, cuts: Cuts | None = None) -> Callable[..., Message]:
    """The parser's Message class for `raw`, with folded boundaries unfolded (compat32 keeps the line
    break inside a quoted boundary, finds no delimiter, and the whole MIME tree becomes the body),
    and the runs cut out of `raw` at hand for decoding its parts."""

    class _Message(Message):
        def get_boundary(self, failobj=None):
            boundary = super().get_boundary(failobj)
            if isinstance(boundary, str) and ("\n" in boundary or "\r" in boundary):
                return _unfolded_boundary(boundary, raw)
            return boundary

    _Message.cuts = cuts  # type: ignore[attr-defined]  # read by _payload_bytes from every part
    return _Message


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one RFC 5322 message. Never raises: problems become `flags`."""
    raw = skip_preamble(bytes(raw or b""))  # a BOM or blank lines would hide the first header
    limit = safe_limits().max_mail_bytes
    if len(raw) > limit:  # the parser would hold several copies of it: the headers still tell who and when
        mb = 1024 * 1024
        return _headers_only(raw, Flag(FlagKind.TOO_LARGE, f"mail of {len(raw) / mb:.3g} MB, above INTAKE_MAX_MAIL_MB "
                                                    f"({limit / mb:.3g}): stored whole, only its headers read; raise "
                                                    "the limit and run `intake reprocess` to open it"))
    try:
        if raw.startswith(OLE_MAGIC):  # an Outlook .msg: its properties, as the tree of a MIME mail
            return _outlook(raw, headers_only=False)
        parsed, cuts = cut_runs(raw)
        return _parse_message(message_from_bytes(parsed, _message_factory(parsed, cuts), policy=compat32), "", 0)
    except Exception as exc:  # noqa: BLE001 - e.g. RecursionError on thousands of nested parts
        return _headers_only(raw, Flag(MailFlag.MIME_ERROR, f"{type(exc).__name__}: {exc}"[:300]))


def _outlook(raw: bytes, headers_only: bool, first: Flag | None = None) -> ParsedMail:
    """An Outlook .msg, read as the message tree pipeline.msg makes of it; `first` goes before its flags."""
    tree, flags = message_tree(raw, headers_only)
    mail = _parse_message(tree, "", 0)
    mail.flags[:0] = ([first] if first else []) + flags
    return mail


def _headers_only(raw: bytes, error: Flag) -> ParsedMail:
    """Sender, subject and dates from the header block alone, with the flag that says why."""
    if raw.startswith(OLE_MAGIC):  # an Outlook .msg: its headers and recipients alone
        try:
            return _outlook(raw, headers_only=True, first=error)
        except Exception:  # noqa: BLE001
            return ParsedMail(flags=[error])
    end = min((i for i in (raw.find(b"\r\n\r\n", 0, _HEADER_SCAN), raw.find(b"\n\n", 0, _HEADER_SCAN)) if i >= 0),
              default=_HEADER_SCAN)
    try:
        msg = BytesParser(policy=compat32).parsebytes(raw[:end], headersonly=True)
        msg.set_payload("")
        # the body was left out on purpose, which Python 3.11.2 (Debian 12's) calls a defect of a
        # multipart mail and later 3.11 releases do not
        msg.defects = [d for d in msg.defects if not isinstance(d, MultipartInvariantViolationDefect)]
        mail = _parse_message(msg, "", 0)
        mail.flags.insert(0, error)
        return mail
    except Exception:  # noqa: BLE001
        return ParsedMail(flags=[error])
