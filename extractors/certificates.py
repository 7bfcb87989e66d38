"""X.509 certificates for the signature readers: names as staff read them, and the office's trust roots."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import pem, x509

from .text import repair


class TrustRootsError(ValueError):
    """A trust bundle that cannot be read or holds no PEM certificate."""


@dataclass(frozen=True)
class TrustRoots:
    """The CAs the office accepts (INTAKE_TRUST_ROOTS): a signature is trusted when its chain reaches one."""

    certificates: tuple[x509.Certificate, ...]

    @classmethod
    def load(cls, source: bytes | str | os.PathLike) -> TrustRoots:
        """A PEM bundle, as bytes or a path. Raises TrustRootsError with a one-line reason."""
        where = "the trust bundle"
        if not isinstance(source, bytes):
            where = str(source)
            try:
                source = Path(source).read_bytes()
            except OSError as exc:
                raise TrustRootsError(f"cannot read {where}: {exc.strerror or exc}") from None
        if not pem.detect(source):
            raise TrustRootsError(f"{where} is not a PEM file (-----BEGIN CERTIFICATE----- ...)")
        certificates = []
        try:
            for kind, _headers, der in pem.unarmor(source, multiple=True):
                if kind == "CERTIFICATE":
                    certificate = x509.Certificate.load(der)
                    _ = certificate.native  # parse it all now: a broken root is a configuration error, not a verdict
                    certificates.append(certificate)
        except (ValueError, TypeError) as exc:
            raise TrustRootsError(f"{where} holds a broken PEM certificate ({exc})") from None
        if not certificates:
            raise TrustRootsError(f"{where} holds no PEM certificate")
        return cls(tuple(certificates))


def subject_names(name: x509.Name) -> tuple[str | None, str | None]:
    """(common name, organization) of a subject; the organization is its OU then its O, most specific first."""
    common = _values(name, "common_name")
    organization = _values(name, "organizational_unit_name") + _values(name, "organization_name")
    return (common[0] if common else None), (", ".join(dict.fromkeys(organization)) or None)


def issuer_name(certificate: x509.Certificate) -> str | None:
    """The issuing CA as staff know it: its common name, else its organization."""
    common, organization = subject_names(certificate.issuer)
    return common or organization


def valid_at(certificate: x509.Certificate, moment: datetime.datetime | None) -> bool | None:
    """Whether the certificate's validity period holds `moment` (None when the moment or its zone is unknown)."""
    if moment is None or moment.tzinfo is None:
        return None
    return certificate.not_valid_before <= moment <= certificate.not_valid_after


def _values(name: x509.Name, key: str) -> list[str]:
    value = name.native.get(key)
    values = value if isinstance(value, list) else [value] if value else []
    return [text for text in (repair(str(v)) for v in values) if text]
