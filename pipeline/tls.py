"""TLS as IMAP and SMTP both use it: certificates always verified against the system CAs or
SSL_CERT_FILE, plaintext only on loopback, one readable line when verification fails."""

from __future__ import annotations

import ipaddress
import ssl


def verified_context() -> ssl.SSLContext:
    """Chain and host name verified; SSL_CERT_FILE (OpenSSL's own variable) names the CAs trusted."""
    return ssl.create_default_context()


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def certificate_error(host: str, port: int, exc: ssl.SSLCertVerificationError) -> str:
    """One line for a server certificate that did not verify."""
    reason = (exc.verify_message or exc.reason or str(exc)).rstrip(".")
    return (f"cannot verify the TLS certificate of {host}:{port}: {reason}; if it is signed by an internal CA, "
            "set SSL_CERT_FILE to a PEM file holding that CA's certificate")


def answered_in_plaintext(exc: BaseException) -> bool:
    """A TLS handshake the server answered in plaintext: implicit TLS set for a plain/STARTTLS port."""
    return isinstance(exc, ssl.SSLError) and "WRONG_VERSION_NUMBER" in str(exc)
