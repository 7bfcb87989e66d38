"""Real servers the tests start on loopback, in temp directories, and stop again.

`SmtpServer` is aiosmtpd with an explicit free port (it does not take 0). `Dovecot` writes a self-contained
config (plaintext IMAP on 127.0.0.1, passwd-file users, Maildir under the temp dir), starts the master in
the foreground-less daemon mode and can stop, restart and add users. Written for Dovecot 2.3
(`disable_plaintext_auth`); 2.4 renamed most settings.
`LocalCA` issues throwaway certificates, so both servers can also speak TLS (implicit or STARTTLS)
to clients that trust the CA through SSL_CERT_FILE. `OAuthProvider` is the token side of an OAuth2
provider: Dovecot's oauth2 passdb asks its introspection endpoint whether a token is good, and
`SmtpServer(oauth2=...)` checks XOAUTH2 and OAUTHBEARER against the same tokens.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult


def free_port() -> int:
    """A port nobody listens on right now (bind to 0, read it, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCA:
    """A throwaway certificate authority: `ca_file` is what a client trusts (SSL_CERT_FILE),
    `issue` writes a server certificate signed by it. EC keys, so a test pays milliseconds.
    `cryptography` (the test extra) is imported inside: benchmarks/ use this module without it."""

    def __init__(self, root: Path):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.root = root
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intake test CA")])
        public = self._key.public_key()
        self._cert = (self._builder(name, public)
                      .issuer_name(name)
                      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                      .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                   key_encipherment=False, data_encipherment=False,
                                                   key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                   encipher_only=False, decipher_only=False), critical=True)
                      .sign(self._key, hashes.SHA256()))
        self.ca_file = root / "ca.pem"
        self.ca_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def _builder(self, subject, public_key):
        from cryptography import x509

        now = datetime.now(timezone.utc)
        return (x509.CertificateBuilder().subject_name(subject).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))

    def issue(self, *names: str) -> tuple[Path, Path]:
        """(certificate, key) PEM files for a server reached as any of `names` (IP addresses or DNS)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        def alt(name: str) -> x509.GeneralName:
            try:
                return x509.IPAddress(ipaddress.ip_address(name))
            except ValueError:
                return x509.DNSName(name)

        key = ec.generate_private_key(ec.SECP256R1())
        ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]), key.public_key())
                .issuer_name(self._cert.subject)
                .add_extension(x509.SubjectAlternativeName([alt(n) for n in names]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
                .sign(self._key, hashes.SHA256()))
        cert_file, key_file = self.root / f"{names[0]}.pem", self.root / f"{names[0]}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_file, key_file


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server-side TLS context presenting this certificate (for SmtpServer)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


class OAuthProvider:
    """The token side of an OAuth2 provider, on loopback: the tokens a test issues are good for their
    user until it expires them. Its introspection endpoint (RFC 7662, a form POST of `token=`) is
    what Dovecot's oauth2 passdb asks; `asked` counts the questions (one per sign-in attempt)."""

    def __init__(self):
        self.tokens: dict[str, str] = {}  # good token → user
        self.asked = 0
        provider = self

        class Introspection(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                provider.asked += 1
                user = provider.tokens.get(form.get("token", [""])[0])
                body = json.dumps({"active": True, "username": user} if user else {"active": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass  # not on the test's stderr

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Introspection)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/introspect"

    def issue(self, user: str) -> str:
        token = "ya29." + secrets.token_urlsafe(32)  # looks like a Google access token
        self.tokens[token] = user
        return token

    def expire(self, token: str) -> None:
        self.tokens.pop(token, None)

    def good(self, token: str, user: str) -> bool:
        return self.tokens.get(token) == user

    def start(self) -> OAuthProvider:
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def dovecot_missing() -> str | None:
    """Why the Dovecot tests cannot run here, or None."""
    if not shutil.which("dovecot") or not shutil.which("doveadm"):
        return "dovecot is not installed (apt-get install dovecot-imapd; ./scripts/setup --test does it)"
    return None


class Dovecot:
    """One Dovecot instance: IMAP on 127.0.0.1:<port>, users in a passwd-file, Maildir storage.
    With `tls=(certificate, key)` also implicit TLS on <ssl_port>, STARTTLS on <port>, and
    ssl = required (which Dovecot does not enforce for loopback clients: `client()` still works).
    With `oauth2` (an introspection URL, OAuthProvider.url) also SASL XOAUTH2 and OAUTHBEARER, by an
    oauth2 passdb that asks it about each token."""

    def __init__(self, root: str | None = None, port: int | None = None, tls: tuple[Path, Path] | None = None,
                 oauth2: str | None = None):
        # Dovecot's auth and mail processes run as other users: the whole path must be traversable,
        # which pytest's 0700 tmp_path is not. So a directory of our own under /tmp.
        self.root = Path(root or tempfile.mkdtemp(prefix="intake-dovecot-"))
        self.root.chmod(0o755)
        self.port = port or free_port()
        self.tls = tls
        self.oauth2 = oauth2
        self.ssl_port = free_port() if tls else 0  # 0: no implicit-TLS listener
        self.host = "127.0.0.1"
        self.config = self.root / "dovecot.conf"
        self.users_file = self.root / "users"
        self.mail_root = self.root / "mail"
        self.log = self.root / "dovecot.log"
        self._master: subprocess.Popen | None = None
        if os.geteuid() == 0:
            self.mail_user, self.mail_group, self.internal_user = "nobody", "nogroup", "dovecot"
        else:  # rootless: every process runs as whoever runs the tests
            me = pwd.getpwuid(os.geteuid()).pw_name
            self.mail_user, self.mail_group, self.internal_user = me, me, me
        self.users_file.write_text("")
        self.users_file.chmod(0o644)
        self.mail_root.mkdir(exist_ok=True)
        self.mail_root.chmod(0o777)
        self._write_config()

    def _write_config(self) -> None:
        r = self.root
        rootless = os.geteuid() != 0
        tls_settings = (f"ssl = required\nssl_cert = <{self.tls[0]}\nssl_key = <{self.tls[1]}" if self.tls
                        else "ssl = no")
        mechanisms, oauth2_passdb = "plain login", ""
        if self.oauth2:
            # Dovecot 2.3's oauth2 passdb: each token POSTed to the introspection URL, good while "active".
            (r / "dovecot-oauth2.conf.ext").write_text(
                f"introspection_url = {self.oauth2}\nintrospection_mode = post\nforce_introspection = yes\n"
                "username_attribute = username\nactive_attribute = active\nactive_value = true\n")
            mechanisms += " xoauth2 oauthbearer"
            oauth2_passdb = (f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                             f"  args = {r}/dovecot-oauth2.conf.ext\n}}")
        self.config.write_text(f"""
protocols = imap
listen = {self.host}
base_dir = {r}/run
state_dir = {r}/state
log_path = {self.log}
info_log_path = {self.log}
{tls_settings}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
mail_location = maildir:{self.mail_root}/%u
mail_uid = {self.mail_user}
mail_gid = {self.mail_group}
first_valid_uid = 0
first_valid_gid = 0
default_internal_user = {self.internal_user}
{'default_login_user = ' + self.internal_user if rootless else ''}
mailbox_idle_check_interval = 1 secs
auth_verbose = yes
# The tests give a wrong password on purpose: no delay for it (and no per-IP penalty, see anvil).
auth_failure_delay = 0 secs
{oauth2_passdb}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_file}
}}
userdb {{
  driver = static
  args = uid={self.mail_user} gid={self.mail_group} home={self.mail_root}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.ssl_port}
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
""")

    def add_user(self, user: str, password: str) -> None:
        with self.users_file.open("a") as f:
            f.write(f"{user}:{{PLAIN}}{password}::::::\n")
        # Dovecot's passwd-file looks at the file at most once per clock second: a lookup later in
        # the second it was last read would not see the new user yet.
        time.sleep(1.02 - time.time() % 1)

    def start(self, timeout: float = 10.0) -> None:
        self._master = subprocess.Popen(["dovecot", "-F", "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._master.poll() is not None:
                stderr = self._master.stderr.read() if self._master.stderr else b""
                raise RuntimeError(f"dovecot exited: {stderr.decode(errors='replace')}\n"
                                   f"{self.log.read_text(errors='replace') if self.log.exists() else ''}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"dovecot did not answer on port {self.port}")

    def _descendants(self) -> list[int]:
        found, todo = [], [self._master.pid] if self._master else []
        while todo:
            pid = todo.pop()
            try:
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            found += [int(k) for k in kids]
            todo += [int(k) for k in kids]
        return found

    def stop(self) -> None:
        """Stop like a server restart does: the master and every connection process with it
        (Dovecot leaves running imap processes alive when only the master stops)."""
        children = self._descendants()
        if self._master and self._master.poll() is None:
            self._master.terminate()
            try:
                self._master.wait(10)
            except subprocess.TimeoutExpired:
                self._master.kill()
                self._master.wait()
        if self._master and self._master.stderr:
            self._master.stderr.close()
        self._master = None
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        # Until the listener is gone a restart on the same port would fail.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                time.sleep(0.02)
            except OSError:
                return

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self, user: str, password: str):
        """A logged-in imapclient connection, for the tests' own APPENDs and checks."""
        from imapclient import IMAPClient

        c = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        c.login(user, password)
        return c


# ---- SMTP: aiosmtpd on loopback, keeping every delivered mail. `reply` makes it refuse mail
# (e.g. "451 4.3.0 thử lại sau"); `stop()` makes connections fail.

class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_DATA(self, server, session, envelope):
        if self.server.reply:
            return self.server.reply
        self.server.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                      or envelope.content))
        return "250 OK"


class _OAuthHandler(_Handler):
    """AUTH XOAUTH2 and OAUTHBEARER against an OAuthProvider's tokens. A refused token gets the
    error challenge the providers send (a JSON status), then 535 once the client has answered it."""

    def __init__(self, server: SmtpServer, provider: OAuthProvider):
        super().__init__(server)
        self.provider = provider

    async def auth_XOAUTH2(self, server, args):  # noqa: N802 - aiosmtpd finds mechanisms by this name
        return await self._check(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server, args):  # noqa: N802
        return await self._check(server, args, "OAUTHBEARER")

    async def _check(self, server, args, mechanism: str) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)  # challenge_auth has answered
        else:
            blob = _b64(args[1])
            if blob is None:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        user, token = _oauth_fields(blob.decode("utf-8", "replace"), mechanism)
        good = self.provider.good(token, user)
        self.server.sign_ins.append((mechanism, user, good))
        if good:
            return AuthResult(success=True, auth_data=user)
        status = {"status": "401", "schemes": "bearer"} if mechanism == "XOAUTH2" else {"status": "invalid_token"}
        await server.challenge_auth(json.dumps(status))  # the client ends the exchange
        return AuthResult(success=False, handled=False)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return None


def _oauth_fields(message: str, mechanism: str) -> tuple[str, str]:
    """(user, token) of an XOAUTH2 or OAUTHBEARER (RFC 7628) client message."""
    parts = message.split("\x01")
    fields = dict(p.split("=", 1) for p in parts[1 if mechanism == "OAUTHBEARER" else 0:] if "=" in p)
    if mechanism == "OAUTHBEARER":  # "n,a=user," : the GS2 header names the user
        authzid = next((f[2:] for f in parts[0].split(",") if f.startswith("a=")), "")
        user = authzid.replace("=2C", ",").replace("=3D", "=")
    else:
        user = fields.get("user", "")
    return user, fields.get("auth", "").removeprefix("Bearer ")


class SmtpServer:
    """aiosmtpd Controller on loopback. With `credentials=(user, password)` it requires AUTH
    (over plain TCP, which intake allows only on loopback, unless TLS is on); with `oauth2` (an
    OAuthProvider) it requires AUTH by `mechanisms` (XOAUTH2 and OAUTHBEARER; PLAIN and LOGIN not
    offered), each attempt kept in `sign_ins` as (mechanism, user, good?). `ssl_context`:
    implicit TLS from the first byte (port 465 style); `tls_context`: STARTTLS, required before
    AUTH and MAIL (port 587 style)."""

    def __init__(self, credentials: tuple[str, str] | None = None, ssl_context: ssl.SSLContext | None = None,
                 tls_context: ssl.SSLContext | None = None, oauth2: OAuthProvider | None = None,
                 mechanisms: tuple[str, ...] = ("XOAUTH2", "OAUTHBEARER")):
        self.host, self.port = "127.0.0.1", free_port()
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.reply: str | None = None
        self.credentials = credentials
        self.ssl_context, self.tls_context = ssl_context, tls_context
        self.oauth2, self.mechanisms = oauth2, mechanisms
        self.sign_ins: list[tuple[str, str, bool]] = []
        self.controller: Controller | None = None

    def _auth(self, server, session, envelope, mechanism, auth_data):
        ok = self.credentials is not None and (
            auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        return AuthResult(success=ok, handled=False)  # handled=True would leave the refusal unanswered

    def start(self) -> SmtpServer:
        extra: dict = {}
        if self.credentials:
            # aiosmtpd counts only STARTTLS as TLS for auth_require_tls, not implicit TLS.
            extra = {"authenticator": self._auth, "auth_required": True,
                     "auth_require_tls": self.tls_context is not None}
        if self.oauth2:
            offered = {"XOAUTH2", "OAUTHBEARER"} & set(self.mechanisms)
            extra = {"auth_required": True, "auth_require_tls": self.tls_context is not None,
                     "auth_exclude_mechanism": ["PLAIN", "LOGIN", *({"XOAUTH2", "OAUTHBEARER"} - offered)]}
        if self.tls_context:
            extra |= {"tls_context": self.tls_context, "require_starttls": True}
        handler = _OAuthHandler(self, self.oauth2) if self.oauth2 else _Handler(self)
        self.controller = Controller(handler, hostname=self.host, port=self.port, ssl_context=self.ssl_context,
                                     **extra)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for _, _, raw in self.envelopes]

    def env(self) -> dict[str, str]:
        """INTAKE_SMTP_* settings that point intake at this server."""
        return {"INTAKE_SMTP_HOST": self.host, "INTAKE_SMTP_PORT": str(self.port),
                "INTAKE_SMTP_FROM": "Văn phòng Đảng ủy Khối <vanphong@dangbokhoi.example.vn>"}
