"""The XML signatures of a .docx (parts under `_xmlsignatures/`): present, signer and time as written.

Nothing is verified (no digest, signature value or certificate chain): intact, modified_after_signing
and trusted stay None ("not checked"). The signer is the subject of the certificate the signature
carries, else its X509SubjectName, else the name typed on the signature line.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re

from asn1crypto import x509

from .certificates import issuer_name, subject_names, valid_at
from .docx_reader import _Package
from .limits import LimitExceeded
from .model import Flag, Signature
from .signatures import MALFORMED, failure
from .text import repair

_DS = "{http://www.w3.org/2000/09/xmldsig#}"
_OFFICE = "{http://schemas.microsoft.com/office/2006/digsig}"
_MDSSI = "{http://schemas.openxmlformats.org/package/2006/digital-signature}"
_XADES_SIGNING_TIME = ("{http://uri.etsi.org/01903/v1.3.2#}SigningTime", "{http://uri.etsi.org/01903/v1.1.1#}SigningTime")
_PART = re.compile(r"_xmlsignatures/[^/]+\.xml")
_RDN_SEPARATOR = re.compile(r"(?<!\\)[,;+]")


def read_docx_signatures(data: bytes) -> tuple[list[Signature], list[Flag]]:
    """One Signature per signature part, in part order (sig1, sig2, ... sig10)."""
    try:
        package = _Package(data)
    except Exception:  # noqa: BLE001 - not a readable package: the .docx reader says why
        return [], []
    parts = sorted((name for name in package.infos if _PART.fullmatch(name)), key=_natural)
    signatures: list[Signature] = []
    flags: list[Flag] = []
    for part in parts:
        try:
            root = package.xml(part)
            if root is None or root.tag != f"{_DS}Signature":
                raise ValueError("not an XML signature (no ds:Signature element)")
            signatures.append(_signature(root, part))
        except LimitExceeded as exc:
            flags.append(Flag(exc.kind, exc.detail))
        except Exception as exc:  # noqa: BLE001 - a broken part is still a signature that is there: listed, and flagged
            signatures.append(Signature(None, None, None, None, intact=None, modified_after_signing=None,
                                        trusted=None, location=part))
            flags.append(Flag(MALFORMED, f"{part}: {failure(exc)}"))
    return signatures, flags


def _signature(root, part: str) -> Signature:
    certificate = _certificate(root)
    signed_at = _signing_time(root)
    if certificate is not None:
        signer, organization = subject_names(certificate.subject)
        issuer = issuer_name(certificate)
    else:
        signer, organization = _names_written(root.findtext(f".//{_DS}X509SubjectName"))
        issuer = _names_written(root.findtext(f".//{_DS}X509IssuerName"))[0]
    typed = repair(root.findtext(f".//{_OFFICE}SignatureText") or "")
    return Signature(
        signer=signer or typed or None, organization=organization, signed_at=signed_at, issuer=issuer,
        intact=None, modified_after_signing=None, trusted=None,
        valid_at_signing=valid_at(certificate, signed_at) if certificate is not None else None,
        time_source="signer" if signed_at else None, location=part,
    )


def _certificate(root) -> x509.Certificate | None:
    """The first certificate of KeyInfo (Office puts the signer's there), or None."""
    text = root.findtext(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509Certificate")
    if not text:
        return None
    try:
        certificate = x509.Certificate.load(base64.b64decode("".join(text.split()), validate=True))
        _ = certificate.native  # parse it now, so a broken one falls back to the names written
        return certificate
    except (binascii.Error, ValueError, TypeError):
        return None


def _signing_time(root) -> datetime.datetime | None:
    """XAdES SigningTime, else the package signature's SignatureTime value, as written."""
    for tag in (*_XADES_SIGNING_TIME, f"{_MDSSI}Value"):
        text = (root.findtext(f".//{tag}") or "").strip()
        if text:
            try:
                return datetime.datetime.fromisoformat(text)
            except ValueError:
                continue
    return None


def _names_written(distinguished_name: str | None) -> tuple[str | None, str | None]:
    """(CN, "OU, O") of a distinguished name written as text: "CN=Nguyễn Văn A, OU=..., O=...". """
    values: dict[str, list[str]] = {}
    for item in _RDN_SEPARATOR.split(distinguished_name or ""):
        key, _, value = item.partition("=")
        value = repair(re.sub(r"\\(.)", r"\1", value).strip().strip('"'))
        if value:
            values.setdefault(key.strip().upper(), []).append(value)
    organization = values.get("OU", []) + values.get("O", [])
    return next(iter(values.get("CN", [])), None), ", ".join(dict.fromkeys(organization)) or None


def _natural(name: str) -> list:
    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", name)]
