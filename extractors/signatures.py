"""The digital signatures (ký số) of one file: a pass of its own over the bytes, beside the reader and the analysis.

PDF signatures are verified offline (extractors.pdf_signatures, pyHanko); .docx XML signatures are
only read: present, signer and time as written (extractors.docx_signatures). Other formats carry none.
"""

from __future__ import annotations

import os
import time

from .certificates import TrustRoots
from .limits import safe_limits
from .model import Flag, FlagKind, Signature

MALFORMED = FlagKind.SIGNATURE_MALFORMED  # a signature whose structure is broken: it cannot be checked at all
BROKEN = FlagKind.SIGNATURE_BROKEN  # a signature that was checked and does not match the file


def read_signatures(data: bytes, fmt: str, trust_roots: TrustRoots | bytes | str | os.PathLike | None = None,
                    ) -> tuple[list[Signature], list[Flag]]:
    """The signatures of a PDF or .docx (`fmt` as `read_document` names it), in signing order, and flags.

    `trust_roots` is the office's PEM bundle (the caller reads INTAKE_TRUST_ROOTS): a TrustRoots, its
    bytes or its path; None leaves every chain "not checked" (trusted None). A bundle that is not PEM
    raises TrustRootsError (a configuration error); the file itself never makes this raise.
    """
    roots = trust_roots if trust_roots is None or isinstance(trust_roots, TrustRoots) else TrustRoots.load(trust_roots)
    lim = safe_limits()
    if len(data) > lim.max_attachment_bytes:  # not read at all: the reader flags it too_large
        return [], []
    try:
        if fmt == "pdf":
            if b"/ByteRange" not in data:  # no signature dictionary: pyHanko (slow to import) is not needed
                return [], []
            from .pdf_signatures import read_pdf_signatures

            deadline = time.monotonic() + lim.max_seconds_per_file
            note = f"more than {lim.max_seconds_per_file:g} s (INTAKE_MAX_SECONDS_PER_FILE)"
            return read_pdf_signatures(data, roots, deadline, note)
        if fmt == "docx":
            from .docx_signatures import read_docx_signatures

            return read_docx_signatures(data)
    except Exception as exc:  # noqa: BLE001 - the readers flag what they know; this is the last guard, never a traceback
        return [], [Flag(MALFORMED, f"signatures not read: {failure(exc)}")]
    return [], []


def failure(exc: Exception) -> str:
    """An exception as one short line of a flag's detail: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
