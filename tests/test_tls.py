"""TLS end to end: `intake poll` and `intake alerts` against Dovecot and aiosmtpd speaking implicit TLS
and STARTTLS with certificates from a throwaway CA (tests/servers.py LocalCA), trusted through
SSL_CERT_FILE as an office with an internal CA would; and a certificate that does not verify: one
readable line, exit status 2, the password never sent, nothing stored."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from pipeline.alerts import AlertConfigError, AlertSettings
from pipeline.mime import parse_mail
from tests.conftest import SAMPLE_INBOX
from tests.servers import SmtpServer, server_context
from tests.test_alerts import REMINDER_TIME, rows
from tests.test_imap import _append, _count, _env, _poll_once, _poller, _wait

SMTP_LOGIN = ("vanphong", "mật-khẩu-smtp")


def _imap_env(server, user: str, password: str, db, mode: str) -> dict[str, str]:
    """INTAKE_* for `mode` "1" (implicit TLS, the server's ssl_port) or "starttls" (its plain port)."""
    port = server.ssl_port if mode == "1" else server.port
    return _env(server, user, password, db, ssl=mode, port=str(port))


def _logins(server, user: str) -> list[str]:
    """Dovecot's log lines for `user`'s logins; each ends its connection facts with "TLS" or "secured"."""
    return [line for line in server.log.read_text(errors="replace").splitlines() if f"Login: user=<{user}>" in line]


def _settled_logins(server, user: str) -> int:
    """How many logins `user` has had, once the APPEND's own (plaintext) is in the log: Dovecot logs
    asynchronously."""
    _wait(lambda: _logins(server, user), what="the APPEND's login in dovecot's log")
    return len(_logins(server, user))


# ---- IMAP

@pytest.mark.parametrize("mode", ["1", "starttls"])
def test_poll_fetches_the_sample_inbox_over_tls(db, dovecot_tls, tls_imap_user, tls_ca, tmp_path, run_cli,
                                                monkeypatch, mode):
    user, pw = tls_imap_user
    files = sorted(SAMPLE_INBOX.glob("*.eml"))
    _append(dovecot_tls, user, pw, [(f.read_bytes(), parse_mail(f.read_bytes()).received_at) for f in files])
    before = _settled_logins(dovecot_tls, user)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_ca.ca_file))
    for key, value in _imap_env(dovecot_tls, user, pw, tmp_path / "intake.db", mode).items():
        monkeypatch.setenv(key, value)
    result = run_cli("poll", "--once")
    assert result.exit_code == 0, result.output
    assert f"{len(files)} mails fetched: {len(files)} new" in result.output
    stored = {r[0] for r in db.execute("select sha256 from raw_messages")}
    assert stored == {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    # Loopback counts as "secured" to Dovecot even in plaintext: its log tells that intake's login was TLS.
    _wait(lambda: len(_logins(dovecot_tls, user)) > before, what="the login in dovecot's log")
    assert all(", TLS, session=" in line for line in _logins(dovecot_tls, user)[before:])


@pytest.mark.parametrize("mode", ["1", "starttls"])
def test_untrusted_certificate_is_one_clear_error_with_status_2(dovecot_tls, tls_imap_user, tmp_path,
                                                                monkeypatch, mode):
    user, pw = tls_imap_user
    _append(dovecot_tls, user, pw, [(f.read_bytes(), None) for f in sorted(SAMPLE_INBOX.glob("*.eml"))[:1]])
    before = _settled_logins(dovecot_tls, user)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # the system CAs only: the test CA is unknown
    env = _imap_env(dovecot_tls, user, pw, tmp_path / "intake.db", mode)
    port = env["INTAKE_IMAP_PORT"]
    if mode == "1":
        result = _poll_once(env)
        code, out, err = result.returncode, result.stdout, result.stderr
    else:  # the loop gives up too (a retry would fail the same way)
        loop = _poller(env)
        out, err = loop.communicate(timeout=30)
        code = loop.returncode
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"Error: cannot verify the TLS certificate of 127.0.0.1:{port}: unable to get local issuer certificate; "
        "if it is signed by an internal CA, set SSL_CERT_FILE to a PEM file holding that CA's certificate"]
    assert len(_logins(dovecot_tls, user)) == before  # the password was never sent
    db_path = tmp_path / "intake.db"
    assert [_count(db_path, f"select count(*) from {t}") for t in ("raw_messages", "imap_sync", "polls")] == [0, 0, 0]


def _poll_refused(run_cli, monkeypatch, env: dict[str, str]) -> list[str]:
    """The lines `intake poll --once` prints with `env`, which must end it with exit status 2."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run_cli("poll", "--once")
    assert result.exit_code == 2
    return result.output.strip().splitlines()


def test_starttls_on_a_server_without_it_is_refused_before_login(dovecot, imap_user, tmp_path, run_cli,
                                                                monkeypatch):
    user, pw = imap_user  # the plain Dovecot: ssl = no, so no STARTTLS capability
    env = _env(dovecot, user, pw, tmp_path / "intake.db", ssl="starttls")
    assert _poll_refused(run_cli, monkeypatch, env) == [
        f"Error: 127.0.0.1:{dovecot.port} does not offer STARTTLS: use INTAKE_IMAP_SSL=1 and its implicit-TLS port "
        "(usually 993)"]
    assert _logins(dovecot, user) == []


def test_implicit_tls_on_a_plaintext_port_says_which_setting_to_change(dovecot_tls, tls_imap_user, tls_ca,
                                                                         tmp_path, run_cli, monkeypatch):
    user, pw = tls_imap_user
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_ca.ca_file))
    env = _env(dovecot_tls, user, pw, tmp_path / "intake.db", ssl="1", port=str(dovecot_tls.port))
    assert _poll_refused(run_cli, monkeypatch, env) == [
        f"Error: 127.0.0.1:{dovecot_tls.port} does not speak implicit TLS: INTAKE_IMAP_SSL=1 needs the implicit-TLS "
        "port (usually 993); for port 143 set INTAKE_IMAP_SSL=starttls"]


# ---- SMTP

@pytest.fixture
def smtp_tls(tls_cert):
    """start(mode, certificate) -> a running SmtpServer with login, mode "ssl" (implicit) or "starttls"."""
    servers: list[SmtpServer] = []

    def start(mode: str, cert: tuple = tls_cert) -> SmtpServer:
        context = server_context(*cert)
        server = SmtpServer(credentials=SMTP_LOGIN, **{"ssl_context" if mode == "ssl" else "tls_context": context})
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def alerts_db(sample_db, tmp_path):
    """The sample inbox in a private database at run_cli's INTAKE_DB."""
    path = tmp_path / "intake.db"
    with sqlite3.connect(path) as dst:
        sample_db.conn.backup(dst)
    dst.close()
    return path


def _smtp_env(monkeypatch, server: SmtpServer, mode: str, host: str = "127.0.0.1") -> None:
    settings = server.env() | {"INTAKE_SMTP_HOST": host, "INTAKE_SMTP_USER": SMTP_LOGIN[0],
                               "INTAKE_SMTP_PASSWORD": SMTP_LOGIN[1]}
    settings["INTAKE_SMTP_SSL" if mode == "ssl" else "INTAKE_SMTP_STARTTLS"] = "1"
    for key, value in settings.items():
        monkeypatch.setenv(key, value)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd on implicit TLS
@pytest.mark.parametrize("mode, host", [("ssl", "127.0.0.1"), ("starttls", "localhost")])
def test_alerts_are_sent_over_tls(smtp_tls, tls_ca, alerts_db, run_cli, monkeypatch, mode, host):
    server = smtp_tls(mode)
    _smtp_env(monkeypatch, server, mode, host)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_ca.ca_file))
    result = run_cli("alerts", "--now", REMINDER_TIME, "--send")
    assert result.exit_code == 0, result.output
    logged = rows(alerts_db)
    assert logged and {r["outcome"] for r in logged} == {"sent"}
    # The STARTTLS server refuses AUTH and MAIL before STARTTLS; the other speaks only TLS.
    assert sorted(m["To"] for m in server.messages) == sorted(r["recipient"] for r in logged)
    assert all(m["X-Intake-Alert"] for m in server.messages)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode, trusted, reason", [
    ("ssl", False, "unable to get local issuer certificate"),
    ("starttls", True, "IP address mismatch, certificate is not valid for '127.0.0.1'"),
])
def test_certificate_that_does_not_verify_stops_alerts_and_counts_no_attempt(
        smtp_tls, tls_ca, alerts_db, run_cli, monkeypatch, mode, trusted, reason):
    # Untrusted: the test CA is not in the system's list. Trusted CA but a certificate for another name.
    server = smtp_tls(mode, tls_ca.issue("mail.example.vn")) if trusted else smtp_tls(mode)
    _smtp_env(monkeypatch, server, mode)
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(tls_ca.ca_file))
    else:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    result = run_cli("alerts", "--now", REMINDER_TIME, "--send")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: cannot verify the TLS certificate of 127.0.0.1:{server.port}: {reason}; if it is signed by an "
        "internal CA, set SSL_CERT_FILE to a PEM file holding that CA's certificate"]
    assert server.envelopes == [] and rows(alerts_db) == []  # no recipient marked failed or sending
    if not trusted:  # once the CA is trusted, everything due goes out
        monkeypatch.setenv("SSL_CERT_FILE", str(tls_ca.ca_file))
        assert run_cli("alerts", "--now", REMINDER_TIME, "--send").exit_code == 0
        assert len(server.envelopes) == len(rows(alerts_db)) > 0


def test_smtp_tls_settings():
    base = {"INTAKE_SMTP_HOST": "mail.example.vn", "INTAKE_SMTP_FROM": "vanphong@example.vn"}

    def settings(**env: str) -> tuple[int, bool, bool]:
        s = AlertSettings.from_env(base | {f"INTAKE_SMTP_{k.upper()}": v for k, v in env.items()})
        return s.smtp_port, s.smtp_ssl, s.smtp_starttls

    assert settings() == (25, False, False)  # as before: plain SMTP on 25
    assert settings(starttls="1") == (25, False, True)
    assert settings(starttls="1", port="587") == (587, False, True)
    assert settings(ssl="1") == (465, True, False)
    assert settings(port="465") == (465, True, False)  # 465 is implicit TLS unless said otherwise
    for wrong in ({"port": "465", "ssl": "0"}, {"port": "465", "starttls": "1"}):
        with pytest.raises(AlertConfigError, match="port 465 is SMTP over implicit TLS"):
            settings(**wrong)  # the server would wait for a TLS handshake until the timeout
    assert settings(ssl="yes", port="2465") == (2465, True, False)
    with pytest.raises(AlertConfigError, match="exclude each other"):
        settings(ssl="1", starttls="1")
    with pytest.raises(AlertConfigError, match="INTAKE_SMTP_SSL must be 1"):
        settings(ssl="starttls")  # IMAP's vocabulary: refused, never silently plaintext
    with pytest.raises(AlertConfigError, match="INTAKE_SMTP_STARTTLS=1 .* or INTAKE_SMTP_SSL=1"):
        AlertSettings.from_env(base | {"INTAKE_SMTP_USER": "u", "INTAKE_SMTP_PASSWORD": "p"}).check_smtp()
    AlertSettings.from_env(base | {"INTAKE_SMTP_USER": "u", "INTAKE_SMTP_PASSWORD": "p",
                                   "INTAKE_SMTP_SSL": "1"}).check_smtp()


def test_smtp_implicit_tls_on_a_starttls_port_says_which_setting_to_change(smtp_tls, tls_ca, alerts_db, run_cli,
                                                                           monkeypatch):
    server = smtp_tls("starttls")
    _smtp_env(monkeypatch, server, "ssl")
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_ca.ca_file))
    result = run_cli("alerts", "--now", REMINDER_TIME, "--send")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: 127.0.0.1:{server.port} does not speak implicit TLS: INTAKE_SMTP_SSL=1 needs the implicit-TLS port "
        "(usually 465); for port 587 set INTAKE_SMTP_STARTTLS=1"]
    assert server.envelopes == [] and rows(alerts_db) == []
