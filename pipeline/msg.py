"""Outlook .msg files (MS-OXMSG) -> the message tree the MIME parser reads. Never raises.

A .msg is a compound file (MS-CFB, read with olefile): each MAPI property of the message is a
stream "__substg1.0_<id><type>" or, when it has a fixed size, a value in "__properties_version1.0";
recipients and attachments are storages of their own, an attached Outlook item a message storage
inside its attachment. Rather than a second mail parser, the properties are written into an
email.message.Message, the tree pipeline.mime walks: the headers as the server saw them
(PR_TRANSPORT_MESSAGE_HEADERS), else as the properties give them; the body; every file; every
attached item as a message/rfc822 part. pipeline.mime then reads it like any mail, so attribution,
forwards, archives, limits and flags are the same for both and nothing downstream knows.

Hostile files: every stream's declared size is checked against what the file can hold before it
is read, attachments and nested items count against the MIME limits of extractors.limits, and
any failure is a flag (`unreadable`, with the reason).
"""

from __future__ import annotations

import io
import re
import struct
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import format_datetime, formataddr
from urllib.parse import quote

import compressed_rtf
import olefile

from extractors.docx_reader import OLE_MAGIC
from extractors.limits import Limits, safe_limits
from extractors.model import Flag, FlagKind
from pipeline.mime_headers import decode_bytes
from pipeline.rtf_body import rtf_to_text
from rules.vocabulary import MailFlag

# MAPI property ids (MS-OXPROPS) and types
PR_MESSAGE_CLASS, PR_SUBJECT, PR_CLIENT_SUBMIT_TIME, PR_SENT_REPRESENTING_NAME = 0x001A, 0x0037, 0x0039, 0x0042
PR_SUBJECT_PREFIX, PR_NORMALIZED_SUBJECT = 0x003D, 0x0E1D
PR_SENT_REPRESENTING_EMAIL, PR_TRANSPORT_MESSAGE_HEADERS = 0x0065, 0x007D
PR_SENDER_NAME, PR_SENDER_EMAIL, PR_SENDER_SMTP, PR_SENT_REPRESENTING_SMTP = 0x0C1A, 0x0C1F, 0x5D01, 0x5D02
PR_RECIPIENT_TYPE, PR_DISPLAY_NAME, PR_EMAIL_ADDRESS, PR_SMTP_ADDRESS = 0x0C15, 0x3001, 0x3003, 0x39FE
PR_MESSAGE_DELIVERY_TIME, PR_MESSAGE_FLAGS = 0x0E06, 0x0E07
PR_BODY, PR_RTF_COMPRESSED, PR_HTML = 0x1000, 0x1009, 0x1013
PR_INTERNET_MESSAGE_ID, PR_INTERNET_REFERENCES, PR_IN_REPLY_TO_ID = 0x1035, 0x1039, 0x1042
PR_INTERNET_CPID, PR_MESSAGE_CODEPAGE = 0x3FDE, 0x3FFD
PR_ATTACH_DATA, PR_ATTACH_FILENAME, PR_ATTACH_METHOD, PR_ATTACH_LONG_FILENAME = 0x3701, 0x3704, 0x3705, 0x3707
PR_ATTACH_MIME_TAG, PR_ATTACH_CONTENT_ID, PR_ATTACHMENT_HIDDEN = 0x370E, 0x3712, 0x7FFE
PT_LONG, PT_BOOLEAN, PT_OBJECT, PT_STRING8, PT_UNICODE, PT_SYSTIME, PT_BINARY = 3, 0xB, 0xD, 0x1E, 0x1F, 0x40, 0x102
ATTACH_BY_VALUE, ATTACH_EMBEDDED_MSG, ATTACH_OLE = 1, 5, 6
MSGFLAG_UNSENT = 0x8
RECIPIENT_HEADERS = {1: "To", 2: "Cc"}  # 3 is Bcc: not a header of the received mail
# Bytes before the property entries of "__properties_version1.0" (MS-OXMSG 2.4.1).
TOP_HEADER, EMBEDDED_HEADER, OBJECT_HEADER = 32, 24, 8
PROPERTIES, RECIPIENT, ATTACHMENT = "__properties_version1.0", "__recip_version1.0_#", "__attach_version1.0_#"
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
# Windows code pages whose Python codec is not simply "cp<N>".
_CODE_PAGES = {65001: "utf-8", 65000: "utf-7", 1200: "utf-16-le", 1201: "utf-16-be", 20127: "ascii",
               20866: "koi8-r", 21866: "koi8-u", 50220: "iso-2022-jp", 50221: "iso-2022-jp", 50222: "iso-2022-jp",
               51932: "euc-jp", 51949: "euc-kr", 54936: "gb18030", 936: "gbk", 10000: "mac-roman"}  # fmt: skip


def charset_of(code_page: int | None) -> str | None:
    """A Windows code page number as a charset name pipeline.mime_headers decodes."""
    if not code_page:
        return None
    if 28591 <= code_page <= 28606:
        return f"iso-8859-{code_page - 28590}"
    return _CODE_PAGES.get(code_page, f"cp{code_page}")


def _filetime(value: bytes) -> datetime | None:
    ticks = struct.unpack("<Q", value)[0]
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10) if ticks else None
    except OverflowError:
        return None


class _Object:
    """The MAPI properties of one message, recipient or attachment storage."""

    def __init__(self, reader: _Reader, entry, header: int, charset: str | None):
        self.reader, self.entry, self.charset = reader, entry, charset
        self.kids = {kid.name.upper(): kid for kid in entry.kids}
        self.fixed: dict[int, tuple[int, bytes]] = {}
        table = reader.read(self.kids.get(PROPERTIES.upper()), PROPERTIES) or b""
        for offset in range(header, len(table) - 15, 16):
            tag, _flags, value = struct.unpack_from("<II8s", table, offset)
            self.fixed.setdefault(tag >> 16, (tag & 0xFFFF, value))

    def _stream(self, pid: int, ptype: int):
        return self.kids.get(f"__SUBSTG1.0_{pid:04X}{ptype:04X}")

    def long(self, pid: int) -> int | None:
        ptype, value = self.fixed.get(pid, (None, b""))
        return struct.unpack("<i", value[:4])[0] if ptype == PT_LONG else None

    def boolean(self, pid: int) -> bool:
        ptype, value = self.fixed.get(pid, (None, b""))
        return ptype == PT_BOOLEAN and value[0] != 0

    def time(self, pid: int) -> datetime | None:
        ptype, value = self.fixed.get(pid, (None, b""))
        return _filetime(value) if ptype == PT_SYSTIME else None

    def binary(self, pid: int) -> bytes | None:
        return self.reader.read(self._stream(pid, PT_BINARY), f"property {pid:04X}")

    def string(self, pid: int) -> str | None:
        """A string property: UTF-16 (PT_UNICODE), else 8-bit in the message's code page."""
        data = self.reader.read(self._stream(pid, PT_UNICODE), f"property {pid:04X}")
        if data is not None:
            return data.decode("utf-16-le", "replace").split("\x00", 1)[0]
        data = self.reader.read(self._stream(pid, PT_STRING8), f"property {pid:04X}")
        if data is None:
            return None
        text, problem = decode_bytes(data.split(b"\x00", 1)[0], self.charset)
        if problem:
            self.reader.flag(problem, f"property {pid:04X}: code page {self.charset!r}")
        return text

    def storage(self, name: str):
        kid = self.kids.get(name.upper())
        return kid if kid is not None and kid.entry_type == olefile.STGTY_STORAGE else None

    def children(self, prefix: str) -> list:
        return sorted((k for n, k in self.kids.items() if n.startswith(prefix.upper())
                       and k.entry_type == olefile.STGTY_STORAGE), key=lambda k: k.name.upper())


class _Reader:
    """One opened compound file, with what it may still read and what went wrong."""

    def __init__(self, ole: olefile.OleFileIO, size: int, label: str, limits: Limits):
        self.ole, self.label, self.limits = ole, label, limits
        self.budget = size  # a valid file's streams together hold no more bytes than the file
        self.counts: dict[str, int] = {}
        self.flags: list[Flag] = []

    def flag(self, kind: str, detail: str) -> None:
        if not any(f.kind == kind and f.detail == f"{self.label}: {detail}" for f in self.flags):
            self.flags.append(Flag(kind, f"{self.label}: {detail}"))

    def read(self, entry, what: str) -> bytes | None:
        if entry is None or entry.entry_type != olefile.STGTY_STREAM:
            return None
        if entry.size == 0:
            return b""
        if entry.size > self.budget:
            self.flag(FlagKind.UNREADABLE,
                      f"{what}: a stream of {entry.size} bytes, more than the file holds: not read")
            return None
        try:
            # By its directory entry: openstream() finds a path by scanning each storage's children,
            # which a crafted file with thousands of them makes quadratic.
            data = self.ole._open(entry.isectStart, entry.size).read()  # noqa: SLF001 - see above
        except Exception as exc:  # noqa: BLE001 - a broken sector chain, a truncated file
            self.flag(FlagKind.UNREADABLE, f"{what}: {type(exc).__name__}: {exc}")
            return None
        self.budget -= len(data)
        return data

    def is_message(self) -> bool:
        names = {kid.name.upper() for kid in self.ole.root.kids}
        return PROPERTIES.upper() in names and any(n.startswith(f"__SUBSTG1.0_{PR_MESSAGE_CLASS:04X}") for n in names)

    def message(self, entry, header: int, depth: int, charset: str | None, headers_only: bool = False) -> Message:
        props = _Object(self, entry, header, charset)
        code_page = props.long(PR_MESSAGE_CODEPAGE) or props.long(PR_INTERNET_CPID)
        props.charset = charset_of(code_page) or charset
        tree = _headers(props, self._recipients(props))
        tree["Content-Type"] = "multipart/mixed"
        parts: list[Message | str] = []
        if not headers_only:
            parts += [p for p in [self._body(props)] if p is not None] + self._attachments(props, depth)
        tree.set_payload(parts)
        return tree

    def _count(self, what: str) -> bool:
        """Count one more recipient, or attachment, against INTAKE_MAX_MIME_PARTS (the whole file:
        attached items' included). Recipients count apart: a circular to 600 units keeps its files."""
        self.counts[what] = self.counts.get(what, 0) + 1
        if self.counts[what] > self.limits.max_mime_parts:
            self.flag(MailFlag.MIME_LIMIT, f"more than {self.limits.max_mime_parts} {what} (INTAKE_MAX_MIME_PARTS), "
                                    "the rest skipped")
            return False
        return True

    def _recipients(self, props: _Object) -> dict[str, list[str]]:
        headers: dict[str, list[str]] = {}
        for entry in props.children(RECIPIENT):
            if not self._count("recipients"):
                break
            recipient = _Object(self, entry, OBJECT_HEADER, props.charset)
            address = recipient.string(PR_SMTP_ADDRESS) or recipient.string(PR_EMAIL_ADDRESS) or ""
            header = RECIPIENT_HEADERS.get(recipient.long(PR_RECIPIENT_TYPE) or 1)
            if header and "@" in address:
                headers.setdefault(header, []).append(_address(recipient.string(PR_DISPLAY_NAME) or "", address))
        return headers

    def _body(self, props: _Object) -> Message | None:
        """The plain text body, else the HTML one, else the RTF one (as text or as the HTML it holds)."""
        text = props.string(PR_BODY)
        if text and text.strip():
            return _text_part("plain", text)
        html = props.binary(PR_HTML)
        if html is not None and html.strip():
            part = Message()
            charset = charset_of(props.long(PR_INTERNET_CPID))
            part["Content-Type"] = f"text/html; charset={charset}" if charset else "text/html"
            part.set_payload(html)
            return part
        if (html_text := props.string(PR_HTML)) and html_text.strip():
            return _text_part("html", html_text)
        rtf = props.binary(PR_RTF_COMPRESSED)
        if not rtf:
            return None
        declared = struct.unpack("<I", rtf[4:8])[0] if len(rtf) >= 8 else 0
        if declared > self.limits.max_attachment_bytes:
            self.flag(FlagKind.TOO_LARGE, f"RTF body of {declared} bytes, above the"
                      f" {self.limits.max_attachment_bytes}-byte limit (INTAKE_MAX_ATTACHMENT_MB): not read")
            return None
        try:
            body, is_html = rtf_to_text(compressed_rtf.decompress(rtf))
        except Exception as exc:  # noqa: BLE001 - the library raises bare Exception on a bad CRC
            self.flag(FlagKind.UNREADABLE, f"compressed RTF body: {exc}")
            return None
        return _text_part("html" if is_html else "plain", body) if body.strip() else None

    def _attachments(self, props: _Object, depth: int) -> list[Message]:
        parts = []
        for entry in props.children(ATTACHMENT):
            if not self._count("attachments"):
                break
            attachment = _Object(self, entry, OBJECT_HEADER, props.charset)
            name = (attachment.string(PR_ATTACH_LONG_FILENAME) or attachment.string(PR_ATTACH_FILENAME)
                    or attachment.string(PR_DISPLAY_NAME) or "")
            method = attachment.long(PR_ATTACH_METHOD) or ATTACH_BY_VALUE
            if method == ATTACH_EMBEDDED_MSG:
                item = attachment.storage(f"__substg1.0_{PR_ATTACH_DATA:04X}{PT_OBJECT:04X}")
                if item is None:
                    self.flag(FlagKind.UNREADABLE, f"{name or 'attached item'}: the item's message storage is missing")
                elif depth + 1 > self.limits.max_mime_depth:
                    self.flag(MailFlag.MIME_LIMIT, f"attached items nested deeper than {self.limits.max_mime_depth}"
                              " levels (INTAKE_MAX_MIME_DEPTH), skipped")
                else:
                    parts.append(_forward(self.message(item, EMBEDDED_HEADER, depth + 1, props.charset)))
            elif method == ATTACH_BY_VALUE:
                data = attachment.binary(PR_ATTACH_DATA)
                if data is not None:
                    parts.append(_file_part(attachment, name, data))
            else:  # a link to a file elsewhere, or an OLE object drawn in an RTF body
                what = "an embedded OLE object" if method == ATTACH_OLE else "attached by reference"
                self.flag(FlagKind.UNREADABLE, f"{name or 'attachment'}: {what}, no file in the message: not read")
        return parts


def _text_part(subtype: str, text: str) -> Message:
    part = Message()
    part["Content-Type"] = f"text/{subtype}; charset=utf-8"
    part.set_payload(text.encode("utf-8", "replace"))
    return part


def _forward(tree: Message) -> Message:
    part = Message()
    part["Content-Type"] = "message/rfc822"
    part.set_payload([tree])
    return part


def _file_part(attachment: _Object, name: str, data: bytes) -> Message:
    mime_tag = (attachment.string(PR_ATTACH_MIME_TAG) or "").strip().lower()
    if mime_tag in ("message/rfc822", "message/global"):  # an attached mail, opened as MIME opens one
        return _forward(BytesParser(policy=compat32).parsebytes(data))
    part = Message()
    part["Content-Type"] = mime_tag or "application/octet-stream"
    # RFC 2231, which carries any name (quotes, semicolons, Vietnamese) without escaping rules.
    disposition = "inline" if attachment.boolean(PR_ATTACHMENT_HIDDEN) else "attachment"
    part["Content-Disposition"] = f"{disposition}; filename*=utf-8''{quote(name, safe='')}" if name else disposition
    if content_id := attachment.string(PR_ATTACH_CONTENT_ID):
        part["Content-ID"] = f"<{content_id.strip('<>')}>"
    part.set_payload(data)
    return part


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", text)


def _address(name: str, address: str) -> str:
    try:
        return formataddr((name, address))
    except UnicodeError:  # an internationalized address (RFC 6532) is written as it is
        return formataddr((name, "x@x")).replace("<x@x>", f"<{address}>")


def _headers(props: _Object, recipients: dict[str, list[str]]) -> Message:
    """The message's headers: the server's (PR_TRANSPORT_MESSAGE_HEADERS) where present, the
    properties for any header they lack, and first the delivery time as the topmost Received:,
    where pipeline.mime reads a mail's receipt (PR_MESSAGE_DELIVERY_TIME is the office store's)."""
    tree = Message()
    delivered = props.time(PR_MESSAGE_DELIVERY_TIME)
    if delivered and not (props.long(PR_MESSAGE_FLAGS) or 0) & MSGFLAG_UNSENT:  # a draft was never delivered
        tree["Received"] = f"by the Outlook message store (PR_MESSAGE_DELIVERY_TIME); {format_datetime(delivered)}"
    transport = props.string(PR_TRANSPORT_MESSAGE_HEADERS) or ""
    server = BytesParser(policy=compat32).parsebytes(transport.encode("utf-8"), headersonly=True)
    for name, value in server.raw_items():  # the MIME structure is rebuilt here, not the sender's
        if name.lower() not in ("content-type", "content-transfer-encoding", "content-disposition"):
            tree[name] = value
    sender = next((a for a in (props.string(PR_SENT_REPRESENTING_SMTP), props.string(PR_SENDER_SMTP),
                               props.string(PR_SENT_REPRESENTING_EMAIL), props.string(PR_SENDER_EMAIL))
                   if a and "@" in a), None)  # an Exchange (EX) address is a directory name, not a mail address
    subject = props.string(PR_SUBJECT)
    if subject is None and (normalized := props.string(PR_NORMALIZED_SUBJECT)) is not None:
        subject = (props.string(PR_SUBJECT_PREFIX) or "") + normalized
    submitted = props.time(PR_CLIENT_SUBMIT_TIME)
    message_class = props.string(PR_MESSAGE_CLASS) or ""
    fallback = {
        "From": _address(props.string(PR_SENT_REPRESENTING_NAME) or props.string(PR_SENDER_NAME) or "", sender)
        if sender else None,
        "To": ", ".join(recipients.get("To", [])) or None, "Cc": ", ".join(recipients.get("Cc", [])) or None,
        "Subject": subject, "Date": format_datetime(submitted) if submitted else None,
        "Message-ID": props.string(PR_INTERNET_MESSAGE_ID), "In-Reply-To": props.string(PR_IN_REPLY_TO_ID),
        "References": props.string(PR_INTERNET_REFERENCES),
        # Reports (bounces, read receipts) and Out of Office replies, as Exchange marks them in MIME.
        "Auto-Submitted": "auto-replied" if message_class.upper().startswith("REPORT.")
        or ".OOFTEMPLATE." in message_class.upper() else None,
    }
    for header, text in fallback.items():
        if text and tree.get(header) is None:
            tree[header] = _one_line(text)
    return tree


def _open(raw: bytes, label: str) -> tuple[_Reader | None, list[Flag]]:
    limits = safe_limits()
    try:
        ole = olefile.OleFileIO(io.BytesIO(raw), raise_defects=olefile.DEFECT_INCORRECT)
        if ole.root is None or ole.root.size > len(raw):  # the mini stream lives inside the file
            raise ValueError("mini stream larger than the file")
    except Exception as exc:  # noqa: BLE001 - olefile raises many kinds on a damaged file
        detail = f"{label}: not a readable compound file ({type(exc).__name__}: {exc})"
        return None, [Flag(FlagKind.UNREADABLE, detail[:300])]
    return _Reader(ole, len(raw), label, limits), []


def is_outlook_message(raw: bytes) -> bool:
    """True for a compound file holding an Outlook message (not a .doc, .xls...)."""
    reader = _open(raw, "")[0] if raw[:8] == OLE_MAGIC else None
    return reader is not None and reader.is_message()


def message_tree(raw: bytes, headers_only: bool = False) -> tuple[Message, list[Flag]]:
    """A .msg file as a message tree, with flags for what could not be read. `headers_only`: the
    headers and recipients alone (a mail above INTAKE_MAX_MAIL_MB)."""
    label = "Outlook .msg"
    reader, flags = _open(raw, label)
    if reader is not None and not reader.is_message():
        reader, flags = None, [Flag(FlagKind.UNREADABLE, f"{label}: a compound file without Outlook "
                                                             "message properties, not a mail")]
    if reader is None:
        return Message(), flags
    try:
        return reader.message(reader.ole.root, TOP_HEADER, 0, None, headers_only), reader.flags
    except Exception as exc:  # noqa: BLE001 - e.g. RecursionError on a crafted directory
        return Message(), reader.flags + [Flag(FlagKind.UNREADABLE, f"{label}: {type(exc).__name__}: {exc}"[:300])]


def attached_message(data: bytes, name: str) -> tuple[Message | None, list[Flag]]:
    """An attached Outlook item as a message tree; (None, []) for any other file. A compound file
    named .msg that cannot be opened stays a plain attachment, flagged."""
    if data[:8] != OLE_MAGIC:
        return None, []
    named = name.lower().endswith(".msg")
    reader, flags = _open(data, name)
    if reader is None or not reader.is_message():
        return None, flags if named else []
    limit = reader.limits.max_attachment_bytes
    if len(data) > limit:
        return None, [Flag(FlagKind.TOO_LARGE, f"{name}: {len(data)} bytes, above the {limit}-byte limit "
                                        "(INTAKE_MAX_ATTACHMENT_MB): not opened")]
    try:
        return reader.message(reader.ole.root, TOP_HEADER, 0, None), reader.flags
    except Exception as exc:  # noqa: BLE001 - a crafted file trips olefile in many ways
        return None, reader.flags + [Flag(FlagKind.UNREADABLE, f"{name}: {type(exc).__name__}: {exc}"[:300])]
