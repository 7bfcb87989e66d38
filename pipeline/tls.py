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


def plaintext_port_error(exc: BaseException, host: str, port: int, setting: str, tls_port: int,
                         starttls_port: int, starttls_setting: str) -> str | None:
    """One line when a TLS handshake was answered in plaintext (`setting` asks for implicit TLS on a
    plain or STARTTLS port), else None."""
    if not (isinstance(exc, ssl.SSLError) and "WRONG_VERSION_NUMBER" in str(exc)):
        return None
    return (f"{host}:{port} does not speak implicit TLS: {setting}=1 needs the implicit-TLS port (usually "
            f"{tls_port}); for port {starttls_port} set {starttls_setting}")
