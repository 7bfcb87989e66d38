"""Word 97-2003 .doc and RTF -> .docx with LibreOffice headless, then the .docx reader.

LibreOffice is an optional runtime dependency: without it (or when INTAKE_SOFFICE names a binary
that does not exist) the file comes back flagged "converter_missing", never dropped, never a crash.
Each call gets its own throw-away profile: two soffice processes sharing one profile silently
produce no output. A timeout kills the whole process group (soffice forks oosplash/soffice.bin).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from pathlib import Path

from .config import current, program, soffice_slot, tool_cache
from .limits import safe_limits
from .model import Document, Flag, FlagKind
from .toolcache import files_mark, key, remembered

DEFAULT_TIMEOUT = 120.0
_NAMES = {"doc": "Word 97-2003 .doc", "rtf": "RTF"}


class ConverterMissing(Exception):
    """The converter program is not installed (or the configured path does not exist)."""


class ConversionFailed(Exception):
    """The converter ran but produced nothing usable (crash, timeout, corrupt input)."""


def soffice_path() -> str | None:
    """The soffice binary: the configured one (INTAKE_SOFFICE; a wrong path means none), else PATH."""
    return program(current().soffice, "soffice", "libreoffice")


def _timeout() -> float:
    return safe_limits().soffice_timeout  # INTAKE_SOFFICE_TIMEOUT, with the other limits


_FILTER = "docx:MS Word 2007 XML"


def to_docx(data: bytes, source_format: str, timeout: float | None = None) -> bytes:
    """Convert .doc/.rtf bytes to .docx bytes (or the caller's remembered conversion of the same
    bytes by the same LibreOffice). Raises ConverterMissing or ConversionFailed."""
    binary = soffice_path()
    if binary is None:
        raise ConverterMissing("LibreOffice is not installed")
    return remembered(tool_cache(), "soffice", lambda: conversion_key(binary, data, source_format),
                      lambda: _converted(binary, data, source_format, _timeout() if timeout is None else timeout))


def conversion_key(binary: str, data: bytes, source_format: str) -> str:
    """What LibreOffice's .docx of `data` is kept under: its program files, the filter, the input."""
    program_dir = os.path.dirname(os.path.realpath(binary))
    mark = files_mark([binary, os.path.join(program_dir, "soffice.bin")])
    return key("soffice", mark, [_FILTER, source_format], data)


def _converted(binary: str, data: bytes, source_format: str, timeout: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="intake-soffice-") as tmp:
        work = Path(tmp)
        source = work / f"input.{source_format}"
        source.write_bytes(data)
        out_dir = work / "out"
        profile = (work / "profile").as_uri()
        cmd = [binary, f"-env:UserInstallation={profile}", "--headless", "--invisible", "--nologo",
               "--nodefault", "--norestore", "--nolockcheck", "--convert-to", _FILTER,
               "--outdir", str(out_dir), str(source)]
        # HOME too: some builds still touch ~/.config before reading -env
        env = dict(os.environ, HOME=str(work), SAL_USE_VCLPLUGIN="svp")
        with soffice_slot():  # at most INTAKE_SOFFICE_JOBS at once, across a worker pool
            _run(cmd, env, timeout)
        result = out_dir / "input.docx"
        if not result.is_file() or result.stat().st_size == 0:
            raise ConversionFailed("LibreOffice produced no .docx")
        return result.read_bytes()


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> None:
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
    except OSError as exc:  # vanished between the check and the start, or not executable
        raise ConverterMissing(f"LibreOffice could not be started ({exc})") from exc
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ConversionFailed(f"LibreOffice timed out after {timeout:g} s") from None
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        raise ConversionFailed(f"LibreOffice exited with {proc.returncode}: {err.decode(errors='replace')[-300:]}")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the group is soffice and its children only
    except ProcessLookupError:
        pass
    proc.communicate()


def read_converted(data: bytes, source_format: str) -> Document:
    """Read a .doc or .rtf through LibreOffice and the .docx reader; format stays "doc"/"rtf"."""
    from .docx_reader import read_docx  # local: docx_reader is heavy and this module is imported early

    name = _NAMES.get(source_format, source_format)
    try:
        converted = to_docx(data, source_format)
    except ConverterMissing as exc:
        message = f"{exc}: {name} not read"
        return Document(source_format, error=message, flags=[Flag(FlagKind.CONVERTER_MISSING, message)])
    except ConversionFailed as exc:
        message = f"{name} could not be converted ({exc})"
        return Document(source_format, error=message, flags=[Flag(FlagKind.UNREADABLE, message)])
    doc = read_docx(converted)
    doc.format = source_format
    return doc


__all__ = ["to_docx", "conversion_key", "read_converted", "soffice_path", "ConverterMissing", "ConversionFailed",
           "DEFAULT_TIMEOUT"]
