"""The digital signatures of a PDF (ký số), checked offline with pyHanko: who, when, intact, changed since, trusted.

Nothing is fetched: every validation context is built with allow_fetching=False and no fetchers, so
a certificate's OCSP, CRL and CA-issuer addresses are never contacted; revocation is judged only
from OCSP/CRL data the file itself carries. Without trust roots, no chain is judged (the operating
system's list is never used either).
"""

from __future__ import annotations

import asyncio
import datetime
import io
import logging
import re
import time

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel, StandardDiffPolicy
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.general import MultivaluedAttributeError, NonexistentAttributeError, find_unique_cms_attribute
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, async_validate_pdf_signature
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    NotYetValidError,
    PathError,
    RevokedError,
    ValidationError,
)

from .certificates import TrustRoots, issuer_name, subject_names, valid_at
from .model import Flag, FlagKind, Signature
from .signatures import BROKEN, MALFORMED, failure

# pyHanko logs each untrusted chain and each suspicious revision at WARNING, with a traceback: those
# are verdicts this module returns as facts, not failures of the program.
for _logger in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_logger).setLevel(logging.CRITICAL)


# All /Contents of one file together, decoded. A signature with its chain, timestamp and revocation
# data embedded takes tens of kilobytes; this leaves room for large CRLs, and bounds pyHanko's parsing
# of them to seconds.
MAX_SIGNATURE_BYTES = 1024 * 1024
_DIFF_SECONDS_PER_BYTE = 4e-6  # pyHanko's difference analysis, per byte of the signed revision
_HEX_CONTENTS = re.compile(rb"/Contents\s*<(?!<)")  # a hex string, not a dictionary


class _OutOfTime(Exception):
    pass


class _ChangePolicy(StandardDiffPolicy):
    """pyHanko's standard difference rules, asked what kind of change each later revision made.

    A certification signature's stricter permissions (DocMDP) are left out: a second signature added
    under a certification that allows only form filling is still "only a signature added". The
    deadline is checked between revisions (each is diffed against the signed one).
    """

    def __init__(self, deadline: float):
        base = DEFAULT_DIFF_POLICY
        super().__init__(base.global_rules, base.form_rule, base.reject_object_freeing,
                         base.ignore_orphaned_objects, base.ignore_identical_objects)
        self.deadline = deadline

    def apply(self, old, new, field_mdp_spec=None, doc_mdp=None):
        if time.monotonic() > self.deadline:
            raise _OutOfTime
        return super().apply(old, new, field_mdp_spec, None)


def read_pdf_signatures(data: bytes, roots: TrustRoots | None, deadline: float,
                        deadline_note: str) -> tuple[list[Signature], list[Flag]]:
    """Every signature of a PDF, in signing order, with flags for the ones that cannot be checked."""
    oversized = _contents_too_large(data)
    if oversized:
        return [], [Flag(MALFORMED, oversized)]
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            reader.decrypt(b"")  # an owner-password-only PDF still opens; a user password fails here
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:  # noqa: BLE001 - pyhanko raises many kinds on a damaged file
        return [], [Flag(MALFORMED, "the file holds a signature dictionary, but its signatures cannot be read: "
                                    f"{failure(exc)}")]
    if not fields:
        return [], [Flag(MALFORMED,
                         "the file holds a signature dictionary (/ByteRange) that belongs to no signature field")]
    policy = _ChangePolicy(deadline)
    revocation = _dss_revocation(reader)
    signatures: list[Signature] = []
    flags: list[Flag] = []
    for index, (name, sig_ref, sig_field) in enumerate(fields):
        if index and time.monotonic() > deadline:  # the first is always tried: its diff checks the deadline too
            flags.append(Flag(FlagKind.TIMEOUT, f"signatures: stopped after {index} of {len(fields)}: {deadline_note}"))
            break
        problem = None
        try:
            sig_object = sig_ref.get_object()
            if sig_object.get("/Type") == "/DocTimeStamp":  # a document timestamp, signed by nobody
                continue
            problem = _byte_range_problem(sig_object, data)
            diff = problem is not None or _diff_fits(sig_object, len(data), deadline)
            if not diff:
                flags.append(Flag(FlagKind.TIMEOUT, f"{name}: the changes made after it were not analysed: the file is "
                                             f"too large to diff in time ({deadline_note})"))
            embedded = EmbeddedPdfSignature(reader, sig_field, name)
            signature = asyncio.run(_check(embedded, roots, policy if diff else None, revocation))
        except _OutOfTime:
            flags.append(Flag(FlagKind.TIMEOUT,
                              f"signatures: stopped in {name}, the {index + 1}th of {len(fields)}: {deadline_note}"))
            break
        except Exception as exc:  # noqa: BLE001 - anything a hostile signature trips on: listed as not intact, and flagged
            signatures.append(Signature(None, None, None, None, intact=False, modified_after_signing=None,
                                        trusted=None if roots is None else False, location=name))
            flags.append(Flag(MALFORMED, f"{name}: {problem or failure(exc)}"))
            continue
        if problem:  # whatever pyHanko made of it, the signature does not frame this file as it must
            signature.intact, signature.modified_after_signing = False, True
            flags.append(Flag(MALFORMED, f"{name} ({signature.signer or 'unknown signer'}): {problem}"))
        elif not signature.intact:
            flags.append(Flag(BROKEN, f"{name} ({signature.signer or 'unknown signer'}): the signed bytes do not "
                                      "match the signature (changed after signing, or a signature taken from "
                                      "another file)"))
        signatures.append(signature)
    return signatures, flags


def _contents_too_large(data: bytes) -> str | None:
    """Why the signature strings of this file are too big to hand to pyHanko, or None.

    pyHanko reads a hex string one digit at a time (3-5 µs each): 20 MB of /Contents would take
    minutes before any deadline could be checked. Measured here, in C, on the raw bytes.
    """
    total = 0
    for match in _HEX_CONTENTS.finditer(data):
        end = data.find(b">", match.end())
        total += (end if end != -1 else len(data)) - match.end()
    if total // 2 > MAX_SIGNATURE_BYTES:
        return (f"its signature strings (/Contents) hold {total // 2} bytes, more than the {MAX_SIGNATURE_BYTES} "
                "any real signature needs: signatures not checked")
    return None


def _byte_range_problem(sig_object: generic.DictionaryObject, data: bytes) -> str | None:
    """Why the /ByteRange and /Contents do not frame the file as a signature must, or None.

    The two ranges must lie inside the file, in order, and leave out exactly the /Contents string,
    so what is checked is the file as it is and the signature is where the ranges say.
    """
    byte_range, contents = sig_object.get("/ByteRange"), sig_object.get("/Contents")
    if isinstance(contents, generic.TextStringObject):  # bytes that happened to decode as text
        contents = contents.original_bytes
    if not isinstance(contents, bytes):
        return "/Contents is not a string"
    if not isinstance(byte_range, list) or len(byte_range) != 4 or not all(isinstance(n, int) for n in byte_range):
        return f"/ByteRange is not four integers: {str(byte_range)[:80]}"
    start, first, second, length = (int(n) for n in byte_range)
    if min(start, first, second, length) < 0 or start + first > second:
        return f"/ByteRange {[start, first, second, length]} is not two ranges in order"
    if second + length > len(data):
        return f"/ByteRange {[start, first, second, length]} points past the end of the file ({len(data)} bytes)"
    gap = data[start + first:second]
    if data[start + first - 1:start + first] == b"<" and data[second:second + 1] == b">":
        gap = b"<" + gap + b">"  # some signers sign the string's delimiters and leave out only its digits
    if gap[:1] != b"<" or gap[-1:] != b">":
        return (f"the /ByteRange leaves out bytes {start + first}-{second}, which are not the /Contents string "
                "(the file was rewritten after signing, or the byte range is false)")
    try:
        digits = gap[1:-1].decode("ascii").replace(" ", "")
        framed = bytes.fromhex(digits + "0" * (len(digits) % 2))  # an odd last digit is padded with 0
    except ValueError:
        framed = b""
    if len(contents) > len(framed):
        return (f"/Contents holds {len(contents)} bytes, more than the {len(framed)} the /ByteRange leaves out: "
                "part of the signature lies inside the signed bytes")
    if framed != contents:
        return "the bytes the /ByteRange leaves out are not this signature's /Contents"
    return None


def _diff_fits(sig_object: generic.DictionaryObject, file_size: int, deadline: float) -> bool:
    """Whether the difference analysis of what follows this signature can end before the deadline.

    pyHanko reads every object of the signed revision in one step that cannot be interrupted
    (about 4 µs a byte here: 4.4 s for a 1.2 MB report), so it is not started when it cannot finish.
    A signature that covers the whole file needs no analysis.
    """
    _, _, second, length = (int(n) for n in sig_object["/ByteRange"])
    signed = second + length
    return signed >= file_size or time.monotonic() + signed * _DIFF_SECONDS_PER_BYTE <= deadline


async def _check(embedded: EmbeddedPdfSignature, roots: TrustRoots | None, policy: _ChangePolicy | None,
                 dss_revocation: tuple[list, list]) -> Signature:
    """What pyHanko finds of one signature; without a policy, the changes after it are not analysed."""
    # No trust roots here: pyHanko's own trust verdict is judged at "now" and skipped for weak
    # digests; the chain is judged below, at the signing time.
    status = await async_validate_pdf_signature(embedded, signer_validation_context=_context([]),
                                                diff_policy=policy, skip_diff=policy is None)
    certificate = embedded.signer_cert
    signer, organization = subject_names(certificate.subject)
    token = status.timestamp_validity
    signed_at: datetime.datetime | None
    source: str | None
    if token is not None and token.intact and token.valid:
        signed_at, source = token.timestamp, "timestamp"
    else:
        signed_at, source = status.signer_reported_dt, "signer" if status.signer_reported_dt else None
    intact = bool(status.intact and status.valid)
    level = status.modification_level
    modified = True if not intact else None if level is None else level is ModificationLevel.OTHER
    trusted, revocation = None, "not_checked"
    if roots is not None:
        crls, ocsps = _revocation_data(embedded, dss_revocation)
        trusted = await _chain_reaches_root(embedded, roots, signed_at)
        if trusted and (crls or ocsps):
            revocation = await _revocation(embedded, roots, signed_at, crls, ocsps)
    return Signature(
        signer=signer, organization=organization, signed_at=signed_at, issuer=issuer_name(certificate),
        intact=intact, modified_after_signing=modified,
        trusted=trusted, valid_at_signing=valid_at(certificate, signed_at), revocation=revocation,
        time_source=source, modification=level.name.lower() if level is not None else None,
        location=embedded.field_name,
    )


def _context(trust_roots: list, moment: datetime.datetime | None = None, crls=(), ocsps=(),
             revocation_mode: str = "soft-fail") -> ValidationContext:
    """A validation context that can never fetch, trusting exactly `trust_roots` (never the OS list)."""
    return ValidationContext(trust_roots=trust_roots, moment=moment, allow_fetching=False, fetchers=None,
                             crls=list(crls), ocsps=list(ocsps), revocation_mode=revocation_mode)


async def _validate(embedded: EmbeddedPdfSignature, roots: TrustRoots, moment: datetime.datetime | None,
                    crls=(), ocsps=(), revocation_mode: str = "soft-fail") -> None:
    context = _context(list(roots.certificates), moment, crls, ocsps, revocation_mode)
    validator = CertificateValidator(embedded.signer_cert, intermediate_certs=embedded.other_embedded_certs,
                                     validation_context=context)
    await validator.async_validate_path()


async def _chain_reaches_root(embedded: EmbeddedPdfSignature, roots: TrustRoots,
                              signed_at: datetime.datetime | None) -> bool:
    """Whether the signer's chain validates up to a trust root, at the signing time.

    A certificate outside its validity then is still chained to the root (valid_at_signing says the
    rest): its chain is judged again in the middle of the certificate's own validity.
    """
    try:
        await _validate(embedded, roots, signed_at)
        return True
    except (ExpiredError, NotYetValidError):
        certificate = embedded.signer_cert
        middle = certificate.not_valid_before + (certificate.not_valid_after - certificate.not_valid_before) / 2
        try:
            await _validate(embedded, roots, middle)
            return True
        except (PathError, ValidationError):
            return False
    except (PathError, ValidationError):
        return False


async def _revocation(embedded: EmbeddedPdfSignature, roots: TrustRoots, signed_at: datetime.datetime | None,
                      crls: list, ocsps: list) -> str:
    """good | revoked | unknown, from the OCSP responses and CRLs the file carries ("require": no guessing)."""
    try:
        await _validate(embedded, roots, signed_at, crls, ocsps, revocation_mode="require")
        return "good"
    except RevokedError:
        return "revoked"
    except (PathError, ValidationError):
        return "unknown"


def _revocation_data(embedded: EmbeddedPdfSignature, dss_revocation: tuple[list, list]) -> tuple[list, list]:
    """(CRLs, OCSP responses) embedded for this signature: Adobe's signed attribute, the CMS, the DSS."""
    crls, ocsps = list(dss_revocation[0]), list(dss_revocation[1])
    try:
        archival = find_unique_cms_attribute(embedded.signer_info["signed_attrs"], "adobe_revocation_info_archival")
        crls += list(archival["crl"] or [])
        ocsps += list(archival["ocsp"] or [])
    except (NonexistentAttributeError, MultivaluedAttributeError):
        pass
    for choice in embedded.signed_data["crls"] or []:
        if choice.name == "crl":
            crls.append(choice.chosen)
        elif choice.name == "other" and choice.chosen["other_rev_info_format"].native == "ocsp_response":
            ocsps.append(choice.chosen["other_rev_info"])
    return crls, ocsps


def _dss_revocation(reader: PdfFileReader) -> tuple[list, list]:
    """(CRLs, OCSP responses) of the document security store (PAdES-LT), read once per file."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        return ([asn1_crl.CertificateList.load(ref.get_object().data) for ref in dss.crls],
                [asn1_ocsp.OCSPResponse.load(ref.get_object().data) for ref in dss.ocsps])
    except Exception:  # noqa: BLE001 - none (NoDSSFoundError), or a broken one: it only costs the revocation data it held
        return [], []

