"""Archives attached to mails: list their files without trusting anything the archive claims.

Units zip a report together with its appendices, sometimes a zip inside a zip, made on Windows
with member names in whatever code page the machine had; some send 7-Zip or RAR; Outlook in "Rich
Text" mode wraps every attachment in one TNEF stream (winmail.dat). `expand` returns every file
member of a zip, 7z or TNEF (nested ones expanded too), and turns everything unusual (encryption,
corruption, a zip bomb, a RAR nobody here can read) into a `Flag` instead of an exception or a
memory blow-up.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from extractors import formats
from extractors.limits import safe_limits
from extractors.model import Flag, FlagKind

_MB = 1024 * 1024
# A small member that compresses very well (a page of spaces) is harmless; the ratio limit only
# matters once a member has produced this much output.
_RATIO_MIN_BYTES = 1 * _MB
_CHUNK = 64 * 1024


class _Stop(Exception):
    """A limit was hit: stop expanding altogether."""


def archive_format(data: bytes, filename: str = "") -> str | None:
    """"zip", "7z", "rar" or "tnef" for an archive, None for other data and for zip packages: a .docx
    is a zip too, but it is a document to read, not an archive to open (extractors.formats). A zip
    that starts right but cannot be opened still counts, so that `expand` reports it as corrupt,
    unless its name says it is a package (a damaged .docx is the reader's to report)."""
    fmt = formats.sniff(data, filename)
    return fmt.name if fmt.archive else None


def is_archive(data: bytes, filename: str = "") -> bool:
    return archive_format(data, filename) is not None


def _unicode_path_extra(info: zipfile.ZipInfo) -> str | None:
    """The Info-ZIP Unicode Path extra field (0x7075) that WinRAR and 7-Zip write beside a legacy name."""
    extra, i = info.extra, 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[i : i + 4])
        body = extra[i + 4 : i + 4 + size]
        if tag == 0x7075 and len(body) > 5 and body[0] == 1:
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                return None
        i += 4 + size
    return None


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author wrote it.

    Without the UTF-8 flag (0x800) zipfile decodes names as cp437, but many tools (macOS, Linux,
    some Windows archivers) write UTF-8 without setting the flag: re-decode when that works.
    """
    if info.flag_bits & 0x800:
        return info.filename
    unicode_path = _unicode_path_extra(info)
    if unicode_path:
        return unicode_path
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _clean_path(name: str) -> str:
    """A member path without drive, root, "." or ".." parts, so it can never point outside."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if parts and len(parts[0]) == 2 and parts[0][1] == ":":
        parts = parts[1:]
    return "/".join(parts)


class _Budget:
    """Limits shared by the whole expansion, nested archives included."""

    def __init__(self, max_members: int, max_total_bytes: int, max_ratio: float, max_depth: int):
        self.max_members = max_members
        self.max_total_bytes = max_total_bytes
        self.max_ratio = max_ratio
        self.max_depth = max_depth
        self.members = 0
        self.total = 0
        self.paths: set[str] = set()


def _unique_path(path: str, budget: _Budget) -> str:
    """`path`, or "path~2", "path~3"... when an archive holds one name twice: paths must identify members."""
    if path in budget.paths:
        path = next(f"{path}~{n}" for n in range(2, len(budget.paths) + 3) if f"{path}~{n}" not in budget.paths)
    budget.paths.add(path)
    return path


def _count_members(budget: _Budget, n: int, where: str, flags: list[Flag]) -> None:
    budget.members += n
    if budget.members > budget.max_members:
        flags.append(Flag(FlagKind.ARCHIVE_LIMIT, f"{where}more than {budget.max_members} members"))
        raise _Stop


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, budget: _Budget, flags: list[Flag]) -> bytes:
    """Read one member, checking the limits on the bytes actually produced. The first read asks for
    the declared size, capped where a limit would be passed: a member that tells the truth is one
    bytes object, never a buffer and its copy; one that lies goes on in chunks."""
    compressed = max(info.compress_size, 1)
    remaining = budget.max_total_bytes - budget.total
    first = max(0, min(info.file_size, remaining, max(_RATIO_MIN_BYTES, int(compressed * budget.max_ratio)))) + 1
    pieces: list[bytes] = []
    size = 0
    with zf.open(info) as stream:
        while chunk := stream.read(_CHUNK if pieces else first):
            pieces.append(chunk)
            size += len(chunk)
            if size > remaining:
                flags.append(Flag(FlagKind.ARCHIVE_LIMIT,
                                  f"{path}: more than {budget.max_total_bytes} bytes uncompressed in total"))
                raise _Stop
            if size > _RATIO_MIN_BYTES and size / compressed > budget.max_ratio:
                flags.append(Flag(FlagKind.ARCHIVE_LIMIT, f"{path}: compression ratio above {budget.max_ratio:g}"))
                raise _Stop
    budget.total += size
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _expand(data: bytes, prefix: str, depth: int, budget: _Budget, out: list[tuple[str, bytes]],
            flags: list[Flag]) -> None:
    where = f"{prefix}: " if prefix else ""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception as exc:  # noqa: BLE001 - BadZipFile, OSError, struct.error, ... all mean corrupt
        flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{where}{type(exc).__name__}: {exc}"))
        return
    with zf:
        for info in infos:
            if info.is_dir():
                continue
            name = _clean_path(member_name(info))
            if not name:
                continue
            path = _unique_path(f"{prefix}/{name}" if prefix else name, budget)
            _count_members(budget, 1, where, flags)
            if info.flag_bits & 0x1:
                flags.append(Flag(FlagKind.ENCRYPTED, path))
                continue
            try:
                content = _read_member(zf, info, path, budget, flags)
            except _Stop:
                raise
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
                    RuntimeError) as exc:
                # One damaged member (bad CRC, unsupported compression) should not hide the others.
                flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{path}: {type(exc).__name__}: {exc}"))
                continue
            _add(path, content, depth, budget, out, flags)


def _add(path: str, content: bytes, depth: int, budget: _Budget, out: list[tuple[str, bytes]],
         flags: list[Flag]) -> None:
    """List a member, and open it too when it is itself an archive."""
    out.append((path, content))
    if is_archive(content, path):
        if depth >= budget.max_depth:
            # The nested archive is still returned as a file; only its contents are not opened.
            flags.append(Flag(FlagKind.ARCHIVE_LIMIT,
                              f"{path}: nested deeper than {budget.max_depth} archives, not opened"))
        else:
            _expand_any(content, path, depth + 1, budget, out, flags)


def _expand_any(data: bytes, prefix: str, depth: int, budget: _Budget, out: list[tuple[str, bytes]],
                flags: list[Flag]) -> None:
    kind = archive_format(data)
    if kind == "7z":
        _expand_7z(data, prefix, depth, budget, out, flags)
    elif kind == "tnef":
        _expand_tnef(data, prefix, depth, budget, out, flags)
    elif kind == "rar":
        # rarfile needs the non-free unrar program; the file is kept and staff can ask for a zip.
        flags.append(Flag(FlagKind.UNSUPPORTED_FORMAT, f"{prefix or 'RAR'}: RAR archives are not opened (no RAR reader "
                                                "installed); the file is kept"))
    else:
        _expand(data, prefix, depth, budget, out, flags)


class _Sink(io.RawIOBase):
    """Where py7zr writes one member: in memory, within the budget left for the whole expansion."""

    def __init__(self, budget: _Budget, flags: list[Flag], name: str):
        super().__init__()
        self.budget, self.flags, self.name = budget, flags, name
        self.buffer = io.BytesIO()
        self.over = False

    def write(self, chunk: bytes) -> int:  # type: ignore[override]  # py7zr writes bytes, never other buffers
        if self.over or self.budget.total + len(chunk) > self.budget.max_total_bytes:
            if not self.over:
                self.flags.append(Flag(FlagKind.ARCHIVE_LIMIT, f"{self.name}: more than {self.budget.max_total_bytes}"
                                                        " bytes uncompressed in total"))
            self.over = True
            return len(chunk)  # swallowed: py7zr must not stop half-way through its own state
        self.budget.total += len(chunk)
        return self.buffer.write(chunk)

    def read(self, size: int | None = None) -> bytes:
        return self.buffer.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.buffer.seek(offset, whence)

    def size(self) -> int:
        return self.buffer.getbuffer().nbytes


def _expand_7z(data: bytes, prefix: str, depth: int, budget: _Budget, out: list[tuple[str, bytes]],
               flags: list[Flag]) -> None:
    """7-Zip through py7zr (pure Python): declared sizes checked first, actual bytes while writing."""
    where = f"{prefix}: " if prefix else ""
    try:
        import py7zr
        from py7zr.io import WriterFactory
    except ImportError:
        flags.append(Flag(FlagKind.UNSUPPORTED_FORMAT, f"{where}7z archive: py7zr is not installed"))
        return
    sinks: dict[str, _Sink] = {}

    class Factory(WriterFactory):
        # _Sink has all of Py7zIO (write, read, seek, flush, size) without importing py7zr at module load
        def create(self, filename: str) -> _Sink:  # type: ignore[override]
            sinks[filename] = _Sink(budget, flags, f"{prefix}/{filename}" if prefix else filename)
            return sinks[filename]

    try:
        with py7zr.SevenZipFile(io.BytesIO(data)) as archive:
            if archive.needs_password():
                flags.append(Flag(FlagKind.ENCRYPTED, f"{where}7z archive with a password"))
                return
            infos = [i for i in archive.list() if not i.is_directory]
            _count_members(budget, len(infos), where, flags)
            declared = sum(i.uncompressed or 0 for i in infos)
            if declared > _RATIO_MIN_BYTES and declared / max(len(data), 1) > budget.max_ratio:
                flags.append(Flag(FlagKind.ARCHIVE_LIMIT, f"{where}compression ratio above {budget.max_ratio:g}"))
                raise _Stop
            archive.extractall(factory=Factory())
    except _Stop:
        raise
    except Exception as exc:  # noqa: BLE001 - Bad7zFile, DecompressionError, lzma errors ... all mean corrupt
        flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{where}{type(exc).__name__}: {exc}"))
        return
    if any(sink.over for sink in sinks.values()):
        raise _Stop
    for filename, sink in sinks.items():
        name = _clean_path(filename)
        if name:
            _add(f"{prefix}/{name}" if prefix else name, sink.buffer.getvalue(), depth, budget, out, flags)


# --- TNEF (winmail.dat) ---------------------------------------------------------------------------
# tnefparse decodes the stream but trusts every count in it and copies the rest of the stream for
# each attribute: the framing and the MAPI property lists are checked here first, and tnefparse is
# given one attachment at a time, with only the attributes that name and hold its file.
_TNEF_TITLE, _TNEF_DATA, _TNEF_RENDDATA, _TNEF_PROPS, _TNEF_CODEPAGE = 0x8010, 0x800F, 0x9002, 0x9005, 0x9007
_TNEF_MAX_ATTRIBUTES = 32  # of one attachment: Outlook writes at most 8 kinds
_MAPI_FIXED = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8,
               0x0014: 8, 0x0040: 8, 0x0048: 16}  # value size by MAPI property type
_MAPI_VARIABLE = {0x0000, 0x000D, 0x001E, 0x001F, 0x0102}  # length-prefixed values
_MAPI_DATA_OBJ = 0x3701  # PR_ATTACH_DATA_OBJ: an attached Outlook item holds a TNEF stream of its own


def _tnef_attributes(data: bytes) -> tuple[list[tuple[int, int, int, int]], str | None]:
    """(level, id, start, end) of every attribute of a TNEF stream, read by its framing alone, and
    what is wrong with the framing. A tail too short for an attribute is ignored: Outlook leaves one.
    A stream cut short loses the attachment it was cut in, not the ones before."""
    attributes: list[tuple[int, int, int, int]] = []
    offset, problem = 6, None
    while len(data) - offset >= 11:
        level, attr_id, length = struct.unpack_from("<BII", data, offset)
        end = offset + 11 + length
        if end > len(data):
            if level == 2 and attr_id & 0xFFFF != _TNEF_RENDDATA:  # its attachment is cut short: none of it counts
                opened = [i for i, (_, kept_id, _, _) in enumerate(attributes) if kept_id == _TNEF_RENDDATA]
                del attributes[opened[-1] if opened else len(attributes):]
            return attributes, problem or f"truncated: the attribute at byte {offset} needs {length} bytes"
        if sum(data[offset + 9 : end - 2]) & 0xFFFF != struct.unpack_from("<H", data, end - 2)[0]:
            problem = problem or f"damaged: checksum mismatch in the attribute at byte {offset}"
        attributes.append((level, attr_id & 0xFFFF, offset, end))  # the high 16 bits are the type
        offset = end
    return attributes, problem


def _mapi_properties(block: bytes) -> list[tuple[int, list[bytes]]]:
    """(id, values) of a MAPI property list (MS-OXTNEF 2.1.3.4), walked the way tnefparse walks it
    but with every count checked against the bytes left: tnefparse trusts them, and one forged count
    makes it allocate without end (POI's oom.tnef). Raises ValueError or struct.error."""
    props: list[tuple[int, list[bytes]]] = []
    (count,), offset = struct.unpack_from("<I", block), 4
    if count > len(block) // 4:
        raise ValueError(f"{count} MAPI properties in {len(block)} bytes")
    for _ in range(count):
        if offset >= len(block):
            break
        ptype, pid = struct.unpack_from("<HH", block, offset)
        offset += 4
        if pid >= 0x8000:  # a named property: GUID, then a number or a name
            (kind,) = struct.unpack_from("<I", block, offset + 16)
            offset += 20
            if kind:
                (size,) = struct.unpack_from("<I", block, offset)
                offset += size + (-size % 4)
            offset += 4
        multi, ptype = ptype & 0x1000, ptype & ~0x1000
        if ptype not in _MAPI_FIXED and ptype not in _MAPI_VARIABLE:
            break  # tnefparse stops at a type it does not know too
        (mv,) = struct.unpack_from("<I", block, offset) if multi else (0,)
        offset += 4 if multi else 0
        values = mv or 1
        if not mv and ptype in _MAPI_VARIABLE:  # one value set, counted
            (values,) = struct.unpack_from("<I", block, offset)
            offset += 4
        if values > (len(block) - offset) // 2:
            raise ValueError(f"a MAPI property claims {values} values in {len(block) - offset} bytes")
        items = []
        for _ in range(values):
            size = _MAPI_FIXED.get(ptype, 0)
            if ptype in _MAPI_VARIABLE:
                (size,) = struct.unpack_from("<I", block, offset)
                offset += 4
                size += -size % 4
            items.append(block[offset : offset + size])
            offset += size
        offset += 2 if (mv or 1) % 2 and ptype in (0x0002, 0x000B) else 0
        if offset > len(block):
            raise ValueError("a MAPI property runs past the end of its attribute")
        props.append((pid, items))
    return props


def _embedded_message(props: list[tuple[int, list[bytes]]], iid: bytes) -> bytes | None:
    """The TNEF stream of an attached Outlook item (PR_ATTACH_DATA_OBJ starting with the IMessage
    IID, as tnefparse recognizes it), or None for an ordinary file."""
    for pid, values in props:
        if pid == _MAPI_DATA_OBJ and b"".join(v.rstrip(b"\x00") for v in values).startswith(iid):
            joined = b"".join(values)
            return joined[joined.find(iid) + len(iid):]
    return None


def _tnef_name(attachment, title: bytes) -> str:
    """The attachment's long file name, else its title (attAttachTitle)."""
    try:
        name = attachment.long_filename()
    except UnicodeDecodeError:  # tnefparse reads the title as UTF-8; Outlook writes it in its code page
        try:
            name = title.decode(attachment.codepage or "cp1252", "replace")
        except LookupError:
            name = title.decode("cp1252", "replace")
    return name.strip("\x00") if isinstance(name, str) else ""


def _expand_tnef(data: bytes, prefix: str, depth: int, budget: _Budget, out: list[tuple[str, bytes]],
                 flags: list[Flag]) -> None:
    """The files of a TNEF stream; an attached Outlook item is listed as a TNEF member and opened
    like any nested archive. A damaged attachment is flagged without hiding the others."""
    where = f"{prefix}: " if prefix else ""
    try:
        from tnefparse.mapi import IMESSAGE_SIG
        from tnefparse.tnef import TNEF
    except ImportError:
        flags.append(Flag(FlagKind.UNSUPPORTED_FORMAT, f"{where}TNEF (winmail.dat): tnefparse is not installed"))
        return
    attributes, problem = _tnef_attributes(data)
    if problem or not attributes:
        flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{where}TNEF {problem or 'stream is empty'}"))
    codepage = next((data[start:end] for _, attr_id, start, end in attributes if attr_id == _TNEF_CODEPAGE), b"")
    groups: list[list[tuple[int, int, int]]] = []  # one per attachment: attAttachRendData opens it
    orphans = 0
    for level, attr_id, start, end in attributes:
        if attr_id == _TNEF_RENDDATA:
            groups.append([])
        if level == 2 and groups:  # level 2: an attachment's attribute
            groups[-1].append((attr_id, start, end))
        elif level == 2:
            orphans += 1
    if orphans:
        flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{where}TNEF damaged: {orphans} attachment attributes before the "
                                           "first attachment, not read"))
    for n, group in enumerate(groups, 1):
        label = f"{where}attachment {n}"
        if len(group) > _TNEF_MAX_ATTRIBUTES:
            flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{label}: {len(group)} TNEF attributes, damaged: not read"))
            continue
        keep, title, embedded = [], b"", None
        for attr_id, start, end in group:
            if attr_id == _TNEF_TITLE:
                title = data[start + 9 : end - 2]
            if attr_id == _TNEF_PROPS:
                try:
                    props = _mapi_properties(data[start + 9 : end - 2])
                except (ValueError, struct.error) as exc:
                    flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{label}: damaged MAPI properties ({exc}), not read"))
                    continue
                inner = _embedded_message(props, IMESSAGE_SIG)
                if inner is not None:  # tnefparse would parse the inner stream unchecked: opened below instead
                    embedded = inner
                    continue
            if attr_id in (_TNEF_RENDDATA, _TNEF_TITLE, _TNEF_DATA, _TNEF_PROPS):  # dates and icons are not needed
                keep.append(data[start:end])
        try:
            # Two bytes more: tnefparse stops 12 bytes before the end, skipping a last attribute of 0 or 1 bytes.
            attachment = TNEF(data[:6] + codepage + b"".join(keep) + b"\x00\x00", do_checksum=False).attachments[0]
            name = _clean_path(_tnef_name(attachment, title)) or f"attachment-{n}"
            content = attachment.data if embedded is None else embedded
        except Exception as exc:  # noqa: BLE001 - whatever tnefparse trips on, the other attachments count
            flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{label}: {type(exc).__name__}: {exc}"))
            continue
        path = _unique_path(f"{prefix}/{name}" if prefix else name, budget)
        _count_members(budget, 1, where, flags)
        if budget.total + len(content) > budget.max_total_bytes:
            flags.append(Flag(FlagKind.ARCHIVE_LIMIT,
                              f"{path}: more than {budget.max_total_bytes} bytes uncompressed in total"))
            raise _Stop
        budget.total += len(content)
        _add(path, content, depth, budget, out, flags)


def expand(
    data: bytes,
    filename: str = "",
    *,
    max_members: int | None = None,
    max_total_bytes: int | None = None,
    max_ratio: float | None = None,
    max_depth: int | None = None,
) -> tuple[list[tuple[str, bytes]], list[Flag]]:
    """Every file member of a zip, 7z or TNEF as (member path, bytes), nested archives expanded, plus flags.

    Nested members get paths like "inner.zip/report.docx"; the nested zip itself is listed too.
    `filename` labels flags and, as for nested members, tells a damaged .docx from a damaged zip.
    Data that is not an archive gives ([], []). On a member, size or ratio
    limit the members read so far are returned with a Flag(FlagKind.ARCHIVE_LIMIT, ...). `max_depth`
    counts the archives opened, the outer one included; a zip nested deeper is returned unopened.
    """
    if not is_archive(data, filename):
        return [], []
    out: list[tuple[str, bytes]] = []
    flags: list[Flag] = []
    # Unset limits come from the settings (INTAKE_MAX_ARCHIVE_*, extractors/limits.py).
    lim = safe_limits()
    budget = _Budget(max_members or lim.max_archive_entries, max_total_bytes or lim.max_archive_bytes,
                     max_ratio or lim.max_archive_ratio, max_depth or lim.max_archive_depth)
    try:
        _expand_any(data, "", 1, budget, out, flags)
    except _Stop:
        pass
    except Exception as exc:  # noqa: BLE001 - a crafted archive must never stop the batch
        flags.append(Flag(FlagKind.ARCHIVE_ERROR, f"{type(exc).__name__}: {exc}"))
    if filename:
        flags = [Flag(f.kind, f"{filename}: {f.detail}") for f in flags]
    return out, flags
