"""Real servers the tests start on loopback, in temp directories, and stop again.

`SmtpServer` is aiosmtpd with an explicit free port (it does not take 0). `Dovecot` writes a self-contained config (plaintext IMAP on 127.0.0.1, passwd-file users, Maildir
under the temp dir), starts the master in the foreground-less daemon mode and can stop, restart and
add users. Written for Dovecot 2.3 (`disable_plaintext_auth`); 2.4 renamed most settings.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    """A port nobody listens on right now (bind to 0, read it, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dovecot_missing() -> str | None:
    """Why the Dovecot tests cannot run here, or None."""
    if not shutil.which("dovecot") or not shutil.which("doveadm"):
        return "dovecot is not installed (apt-get install dovecot-imapd; ./scripts/setup --test does it)"
    return None


class Dovecot:
    """One Dovecot instance: IMAP on 127.0.0.1:<port>, users in a passwd-file, Maildir storage."""

    def __init__(self, root: str | None = None, port: int | None = None):
        # Dovecot's auth and mail processes run as other users: the whole path must be traversable,
        # which pytest's 0700 tmp_path is not. So a directory of our own under /tmp.
        self.root = Path(root or tempfile.mkdtemp(prefix="intake-dovecot-"))
        self.root.chmod(0o755)
        self.port = port or free_port()
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
        self.config.write_text(f"""
protocols = imap
listen = {self.host}
base_dir = {r}/run
state_dir = {r}/state
log_path = {self.log}
info_log_path = {self.log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
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
    port = 0
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
                raise RuntimeError(f"dovecot exited: {self._master.stderr.read().decode(errors='replace')}\n"
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


class SmtpServer:
    """aiosmtpd Controller on loopback. With `credentials=(user, password)` it requires AUTH
    (over plain TCP, which intake allows only on loopback)."""

    def __init__(self, credentials: tuple[str, str] | None = None):
        self.host, self.port = "127.0.0.1", free_port()
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.reply: str | None = None
        self.credentials = credentials
        self.controller: Controller | None = None

    def _auth(self, server, session, envelope, mechanism, auth_data):
        ok = self.credentials is not None and (
            auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        return AuthResult(success=ok)

    def start(self) -> SmtpServer:
        extra = {}
        if self.credentials:
            extra = {"authenticator": self._auth, "auth_required": True, "auth_require_tls": False}
        self.controller = Controller(_Handler(self), hostname=self.host, port=self.port, **extra)
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
