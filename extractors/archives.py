"""Archives attached to mails: list their files without trusting anything the archive claims.

Units zip a report together with its appendices, sometimes a zip inside a zip, made on Windows
with member names in whatever code page the machine had; some send 7-Zip or RAR. `expand` returns
every file member of a zip or 7z (nested archives expanded too), and turns everything unusual
(encryption, corruption, a zip bomb, a RAR nobody here can read) into a `Flag` instead of an
exception or a memory blow-up.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from extractors.limits import safe_limits
from extractors.model import Flag

ZIP_MAGIC = b"PK\x03\x04"
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
RAR_MAGIC = b"Rar!\x1a\x07"
# The media type an archive container is stored under, by format.
MEDIA_TYPES = {"zip": "application/zip", "7z": "application/x-7z-compressed", "rar": "application/vnd.rar"}
_MB = 1024 * 1024
# A small member that compresses very well (a page of spaces) is harmless; the ratio limit only
# matters once a member has produced this much output.
_RATIO_MIN_BYTES = 1 * _MB
_CHUNK = 64 * 1024
# Zip containers that are documents, not archives: OOXML (.docx/.xlsx/.pptx) and ODF/EPUB.
_DOCUMENT_MARKERS = ("[Content_Types].xml",)


class _Stop(Exception):
    """A limit was hit: stop expanding altogether."""


def archive_format(data: bytes) -> str | None:
    """"zip", "7z" or "rar" for an archive (by magic bytes), None for other data and for zip-based
    documents: a .docx is a zip too, but it is a document to read, not an archive to open. A zip
    that starts right but cannot be opened still counts, so that `expand` reports it as corrupt."""
    if data.startswith(SEVEN_ZIP_MAGIC):
        return "7z"
    if data.startswith(RAR_MAGIC):
        return "rar"
    return "zip" if _is_zip_archive(data) else None


def is_archive(data: bytes) -> bool:
    return archive_format(data) is not None


def _is_zip_archive(data: bytes) -> bool:
    if not data.startswith(ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except Exception:  # noqa: BLE001 - any failure here means "corrupt zip", judged by expand
        return True
    names = {info.filename for info in infos}
    if any(marker in names for marker in _DOCUMENT_MARKERS):
        return False
    if infos and infos[0].filename == "mimetype":  # ODF and EPUB store this entry first
        return False
    return True


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


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, budget: _Budget, flags: list[Flag]) -> bytes:
    """Read one member in chunks, checking the limits on the bytes actually produced."""
    out = bytearray()
    compressed = max(info.compress_size, 1)
    with zf.open(info) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            out += chunk
            if budget.total + len(out) > budget.max_total_bytes:
                flags.append(Flag("archive_limit", f"{path}: more than {budget.max_total_bytes} bytes uncompressed in total"))
                raise _Stop
            if len(out) > _RATIO_MIN_BYTES and len(out) / compressed > budget.max_ratio:
                flags.append(Flag("archive_limit", f"{path}: compression ratio above {budget.max_ratio:g}"))
                raise _Stop
    budget.total += len(out)
    return bytes(out)


def _expand(data: bytes, prefix: str, depth: int, budget: _Budget, out: list[tuple[str, bytes]], flags: list[Flag]) -> None:
    where = f"{prefix}: " if prefix else ""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception as exc:  # noqa: BLE001 - BadZipFile, OSError, struct.error, ... all mean corrupt
        flags.append(Flag("archive_error", f"{where}{type(exc).__name__}: {exc}"))
        return
    with zf:
        for info in infos:
            if info.is_dir():
                continue
            name = _clean_path(member_name(info))
            if not name:
                continue
            path = f"{prefix}/{name}" if prefix else name
            if path in budget.paths:  # a zip may hold one name twice; paths must identify members
                path = next(f"{path}~{n}" for n in range(2, len(budget.paths) + 3) if f"{path}~{n}" not in budget.paths)
            budget.paths.add(path)
            budget.members += 1
            if budget.members > budget.max_members:
                flags.append(Flag("archive_limit", f"{where}more than {budget.max_members} members"))
                raise _Stop
            if info.flag_bits & 0x1:
                flags.append(Flag("encrypted", path))
                continue
            try:
                content = _read_member(zf, info, path, budget, flags)
            except _Stop:
                raise
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
                # One damaged member (bad CRC, unsupported compression) should not hide the others.
                flags.append(Flag("archive_error", f"{path}: {type(exc).__name__}: {exc}"))
                continue
            _add(path, content, depth, budget, out, flags)


def _add(path: str, content: bytes, depth: int, budget: _Budget, out: list[tuple[str, bytes]],
         flags: list[Flag]) -> None:
    """List a member, and open it too when it is itself an archive."""
    out.append((path, content))
    if is_archive(content):
        if depth >= budget.max_depth:
            # The nested archive is still returned as a file; only its contents are not opened.
            flags.append(Flag("archive_limit", f"{path}: nested deeper than {budget.max_depth} archives, not opened"))
        else:
            _expand_any(content, path, depth + 1, budget, out, flags)


def _expand_any(data: bytes, prefix: str, depth: int, budget: _Budget, out: list[tuple[str, bytes]],
                flags: list[Flag]) -> None:
    kind = archive_format(data)
    if kind == "7z":
        _expand_7z(data, prefix, depth, budget, out, flags)
    elif kind == "rar":
        # rarfile needs the non-free unrar program; the file is kept and staff can ask for a zip.
        flags.append(Flag("unsupported_format", f"{prefix or 'RAR'}: RAR archives are not opened (no RAR reader "
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

    def write(self, chunk: bytes) -> int:
        if self.over or self.budget.total + len(chunk) > self.budget.max_total_bytes:
            if not self.over:
                self.flags.append(Flag("archive_limit", f"{self.name}: more than {self.budget.max_total_bytes} bytes "
                                                        "uncompressed in total"))
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
        flags.append(Flag("unsupported_format", f"{where}7z archive: py7zr is not installed"))
        return
    sinks: dict[str, _Sink] = {}

    class Factory(WriterFactory):
        def create(self, filename: str) -> _Sink:
            sinks[filename] = _Sink(budget, flags, f"{prefix}/{filename}" if prefix else filename)
            return sinks[filename]

    try:
        with py7zr.SevenZipFile(io.BytesIO(data)) as archive:
            if archive.needs_password():
                flags.append(Flag("encrypted", f"{where}7z archive with a password"))
                return
            infos = [i for i in archive.list() if not i.is_directory]
            budget.members += len(infos)
            if budget.members > budget.max_members:
                flags.append(Flag("archive_limit", f"{where}more than {budget.max_members} members"))
                raise _Stop
            declared = sum(i.uncompressed or 0 for i in infos)
            if declared > _RATIO_MIN_BYTES and declared / max(len(data), 1) > budget.max_ratio:
                flags.append(Flag("archive_limit", f"{where}compression ratio above {budget.max_ratio:g}"))
                raise _Stop
            archive.extractall(factory=Factory())
    except _Stop:
        raise
    except Exception as exc:  # noqa: BLE001 - Bad7zFile, DecompressionError, lzma errors ... all mean corrupt
        flags.append(Flag("archive_error", f"{where}{type(exc).__name__}: {exc}"))
        return
    if any(sink.over for sink in sinks.values()):
        raise _Stop
    for filename, sink in sinks.items():
        name = _clean_path(filename)
        if name:
            _add(f"{prefix}/{name}" if prefix else name, sink.buffer.getvalue(), depth, budget, out, flags)


def expand(
    data: bytes,
    filename: str = "",
    *,
    max_members: int | None = None,
    max_total_bytes: int | None = None,
    max_ratio: float | None = None,
    max_depth: int | None = None,
) -> tuple[list[tuple[str, bytes]], list[Flag]]:
    """Every file member of a zip or 7z as (member path, bytes), nested archives expanded, plus flags.

    Nested members get paths like "inner.zip/report.docx"; the nested zip itself is listed too.
    `filename` only labels flags. Data that is not a zip gives ([], []). On a member, size or ratio
    limit the members read so far are returned with a Flag("archive_limit", ...). `max_depth`
    counts the archives opened, the outer one included; a zip nested deeper is returned unopened.
    """
    if not is_archive(data):
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
        flags.append(Flag("archive_error", f"{type(exc).__name__}: {exc}"))
    if filename:
        flags = [Flag(f.kind, f"{filename}: {f.detail}") for f in flags]
    return out, flags
