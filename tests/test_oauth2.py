"""OAuth2 sign-in (issue 18): IMAP against a Dovecot whose oauth2 passdb asks a token provider on
loopback (tests/servers.py OAuthProvider), SMTP against aiosmtpd's XOAUTH2 and OAUTHBEARER; the
token from a command or a file, fetched again once when refused, never shown."""

from __future__ import annotations

import logging
import shlex
import sqlite3
from pathlib import Path

import pytest

from pipeline.alerts import AlertConfigError, AlertSettings
from pipeline.cli import setup_logging
from pipeline.imap import ImapConfigError, ImapSettings
from pipeline.oauth2 import TokenSource
from tests.conftest import CAMPAIGN_FILE
from tests.servers import SmtpServer
from tests.test_imap import _append, _mail, _poll_once, _poller

AFTER_DEADLINE = "2022-06-16T00:00:00+07:00"  # reminders, overdue notices and a digest are due
# aiosmtpd warns of AUTH over plain TCP; intake allows that on loopback only, which is where it runs here.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _env(server, user: str, db: Path, **imap: str) -> dict[str, str]:
    env = {"INTAKE_DB": str(db), "INTAKE_RULES": str(CAMPAIGN_FILE), "INTAKE_IMAP_HOST": server.host,
           "INTAKE_IMAP_PORT": str(server.port), "INTAKE_IMAP_USER": user, "INTAKE_IMAP_SSL": "0",
           "INTAKE_IMAP_AUTH": "oauth2"}
    return env | {f"INTAKE_IMAP_{k.upper()}": v for k, v in imap.items()}


def _refresh_tool(folder: Path, tokens: list[str]) -> tuple[str, Path]:
    """A token command that prints tokens[0] on its first run, tokens[1] on its second... (the last
    one from then on), like a refresh tool; returns (command, the file counting its runs)."""
    (folder / "tokens").write_text("\n".join(tokens) + "\n")
    runs = folder / "runs"
    script = folder / "refresh-token"
    script.write_text(f"""#!/bin/sh
echo run >> {shlex.quote(str(runs))}
n=$(wc -l < {shlex.quote(str(runs))})
last=$(wc -l < {shlex.quote(str(folder / "tokens"))})
[ "$n" -gt "$last" ] && n=$last
sed -n "${{n}}p" {shlex.quote(str(folder / "tokens"))}
""")
    script.chmod(0o700)
    return str(script), runs


def _runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def _token_file(folder: Path, token: str, mode: int = 0o600) -> str:
    path = folder / "access-token"
    path.write_text(token + "\n")
    path.chmod(mode)
    return str(path)


def _expired(provider, user: str) -> str:
    token = provider.issue(user)
    provider.expire(token)
    return token


# ---- settings (no server)

def test_oauth2_settings_name_what_is_missing_or_unsafe(tmp_path):
    base = {"INTAKE_IMAP_HOST": "outlook.office365.com", "INTAKE_IMAP_USER": "vanphong@dangbokhoi.example.vn"}
    with pytest.raises(ImapConfigError, match="OAuth2 needs a token: set INTAKE_IMAP_OAUTH2_TOKEN_COMMAND"):
        ImapSettings.from_env(base | {"INTAKE_IMAP_AUTH": "oauth2"})
    with pytest.raises(ImapConfigError, match="exclude each other"):
        ImapSettings.from_env(base | {"INTAKE_IMAP_AUTH": "oauth2", "INTAKE_IMAP_OAUTH2_TOKEN_COMMAND": "pizauth",
                                      "INTAKE_IMAP_OAUTH2_TOKEN_FILE": _token_file(tmp_path, "t")})
    with pytest.raises(ImapConfigError, match="INTAKE_IMAP_AUTH is password: set INTAKE_IMAP_AUTH=oauth2"):
        ImapSettings.from_env(base | {"INTAKE_IMAP_OAUTH2_TOKEN_COMMAND": "pizauth show m365"})
    with pytest.raises(ImapConfigError, match="can be read by other users .* chmod 600"):
        ImapSettings.from_env(base | {"INTAKE_IMAP_AUTH": "oauth2",
                                      "INTAKE_IMAP_OAUTH2_TOKEN_FILE": _token_file(tmp_path, "t", 0o644)})
    with pytest.raises(ImapConfigError, match="INTAKE_IMAP_AUTH must be one of password, oauth2, xoauth2"):
        ImapSettings.from_env(base | {"INTAKE_IMAP_AUTH": "kerberos"})
    imap = ImapSettings.from_env(base | {"INTAKE_IMAP_AUTH": "oauth2",
                                         "INTAKE_IMAP_OAUTH2_TOKEN_COMMAND": "oama access vanphong --secret=x"})
    assert imap.password == "" and imap.tokens and "--secret" not in repr(imap)
    # SMTP shares the IMAP token when it has none of its own, and needs the mailbox's name.
    smtp = {"INTAKE_SMTP_HOST": "smtp.office365.com", "INTAKE_SMTP_PORT": "587", "INTAKE_SMTP_STARTTLS": "1",
            "INTAKE_SMTP_FROM": "vanphong@dangbokhoi.example.vn", "INTAKE_SMTP_AUTH": "oauth2"}
    shared = AlertSettings.from_env(base | smtp | {"INTAKE_IMAP_OAUTH2_TOKEN_COMMAND": "pizauth show m365"})
    assert shared.smtp_tokens and shared.smtp_tokens.variable == "INTAKE_IMAP_OAUTH2_TOKEN_COMMAND"
    with pytest.raises(AlertConfigError, match="needs INTAKE_SMTP_USER"):
        shared.check_smtp()
    with pytest.raises(AlertConfigError, match="OAuth2 needs a token: set INTAKE_SMTP_OAUTH2_TOKEN_COMMAND"):
        AlertSettings.from_env(smtp)


def test_a_token_is_redacted_from_the_log_once_fetched(caplog):
    token = "ya29.a0AfB_byC-tu-lenh-lam-moi"
    setup_logging(verbose=True, secrets=[])  # what the CLI runs: no token is known yet
    caplog.set_level(logging.INFO)
    assert TokenSource("INTAKE_IMAP_OAUTH2_TOKEN_COMMAND", command=f"printf '%s\\n' {token}").fetch() == token
    logging.getLogger("pipeline.test").error("the server said: bad token %s", token)
    assert token not in caplog.text and "bad token ***" in caplog.text


# ---- IMAP against Dovecot's oauth2 passdb

@pytest.mark.parametrize("auth, mechanism", [("oauth2", "XOAUTH2"), ("xoauth2", "XOAUTH2"),
                                             ("oauthbearer", "OAUTHBEARER")])
def test_poll_signs_in_with_an_access_token(dovecot_oauth2, oauth_imap_user, oauth_provider, tmp_path, auth,
                                            mechanism):
    user, password = oauth_imap_user
    _append(dovecot_oauth2, user, password, [_mail(600), _mail(601)])
    token = oauth_provider.issue(user)
    env = _env(dovecot_oauth2, user, tmp_path / "intake.db", auth=auth,
               oauth2_token_file=_token_file(tmp_path, token))
    result = _poll_once(env)
    assert result.returncode == 0, result.stderr
    assert "2 mails fetched: 2 new" in result.stdout
    assert f"Login: user=<{user}>, method={mechanism}" in dovecot_oauth2.log.read_text()
    assert token not in result.stdout + result.stderr


def test_an_expired_token_is_fetched_again_once_through_the_command(dovecot_oauth2, oauth_imap_user,
                                                                     oauth_provider, tmp_path):
    user, password = oauth_imap_user
    _append(dovecot_oauth2, user, password, [_mail(610)])
    expired, fresh = _expired(oauth_provider, user), oauth_provider.issue(user)
    command, runs = _refresh_tool(tmp_path, [expired, fresh])
    asked = oauth_provider.asked
    result = _poll_once(_env(dovecot_oauth2, user, tmp_path / "intake.db", oauth2_token_command=command))
    assert result.returncode == 0, result.stderr
    assert "1 mails fetched: 1 new" in result.stdout
    assert _runs(runs) == 2 and oauth_provider.asked - asked == 2  # the expired token, then the fresh one
    assert expired not in result.stderr and fresh not in result.stderr


def test_a_refused_token_is_exit_2_with_one_line(dovecot_oauth2, oauth_imap_user, oauth_provider, tmp_path):
    user, _ = oauth_imap_user
    tokens = [_expired(oauth_provider, user), _expired(oauth_provider, user)]
    command, runs = _refresh_tool(tmp_path, tokens)
    env = _env(dovecot_oauth2, user, tmp_path / "intake.db", oauth2_token_command=command)
    once = _poll_once(env)
    assert once.returncode == 2 and once.stdout == ""
    assert len(once.stderr.splitlines()) == 1, once.stderr
    assert once.stderr.startswith(f"Error: IMAP login as {user}@127.0.0.1 refused the OAuth2 token from "
                                  "INTAKE_IMAP_OAUTH2_TOKEN_COMMAND (XOAUTH2, asked again once): "
                                  "[AUTHENTICATIONFAILED] Authentication failed. (status 401)")
    assert _runs(runs) == 2 and not any(t in once.stderr for t in tokens)
    loop = _poller(env)  # the loop stops too: a refused token is not retried with backoff
    out, err = loop.communicate(timeout=30)
    assert loop.returncode == 2 and len(err.splitlines()) == 1


def test_a_token_file_not_rewritten_yet_is_not_sent_twice(dovecot_oauth2, oauth_imap_user, oauth_provider,
                                                          tmp_path):
    user, _ = oauth_imap_user
    token = _expired(oauth_provider, user)
    asked = oauth_provider.asked
    result = _poll_once(_env(dovecot_oauth2, user, tmp_path / "intake.db",
                             oauth2_token_file=_token_file(tmp_path, token)))
    assert result.returncode == 2 and "refused the OAuth2 token from INTAKE_IMAP_OAUTH2_TOKEN_FILE" in result.stderr
    assert oauth_provider.asked - asked == 1  # read again, the same token: not offered to the server again
    assert token not in result.stderr


def test_a_failing_token_command_is_retried_like_a_lost_connection(dovecot_oauth2, oauth_imap_user, tmp_path):
    user, _ = oauth_imap_user
    command = "echo 'ERROR - Token unavailable until authorised with URL https://login.example/' >&2; exit 1"
    result = _poll_once(_env(dovecot_oauth2, user, tmp_path / "intake.db", oauth2_token_command=command))
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr == (f"cannot read 127.0.0.1:{dovecot_oauth2.port}: INTAKE_IMAP_OAUTH2_TOKEN_COMMAND: the "
                             "command exited with status 1: ERROR - Token unavailable until authorised with URL "
                             "https://login.example/\n")


def test_a_server_without_oauth2_says_what_it_offers(dovecot, imap_user, tmp_path):
    user, _ = imap_user
    result = _poll_once(_env(dovecot, user, tmp_path / "intake.db", oauth2_token_command="echo tok"))
    assert result.returncode == 2
    assert result.stderr == (f"Error: 127.0.0.1:{dovecot.port} does not offer OAuth2 sign-in by XOAUTH2 or "
                             "OAUTHBEARER (it offers PLAIN, LOGIN): check INTAKE_IMAP_AUTH\n")


# ---- SMTP against aiosmtpd's AUTH XOAUTH2 / OAUTHBEARER

@pytest.fixture
def alerts_db(sample_db, tmp_path, monkeypatch):
    """A private copy of the ingested sample inbox, as INTAKE_DB."""
    path = tmp_path / "intake.db"
    with sqlite3.connect(path) as copy:
        sample_db.conn.backup(copy)
    monkeypatch.setenv("INTAKE_DB", str(path))
    return path


@pytest.fixture
def oauth_smtp(oauth_provider, monkeypatch, request):
    """aiosmtpd offering only the OAuth2 mechanisms given by the test's parameter (XOAUTH2 alone,
    as Microsoft 365), pointed at by INTAKE_SMTP_* with INTAKE_SMTP_AUTH=oauth2."""
    server = SmtpServer(oauth2=oauth_provider, mechanisms=getattr(request, "param", ("XOAUTH2",))).start()
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("INTAKE_SMTP_USER", "vanphong@dangbokhoi.example.vn")
    monkeypatch.setenv("INTAKE_SMTP_AUTH", "oauth2")
    yield server
    server.stop()


def test_alerts_sign_in_with_the_imap_token_fetched_again_once(alerts_db, oauth_smtp, oauth_provider, run_cli,
                                                               monkeypatch, tmp_path):
    user = "vanphong@dangbokhoi.example.vn"
    expired, fresh = _expired(oauth_provider, user), oauth_provider.issue(user)
    command, runs = _refresh_tool(tmp_path, [expired, fresh])
    monkeypatch.setenv("INTAKE_IMAP_OAUTH2_TOKEN_COMMAND", command)  # no SMTP token: the IMAP one is shared
    result = run_cli("alerts", "--now", AFTER_DEADLINE, "--send")
    assert result.exit_code == 0, result.output
    assert oauth_smtp.sign_ins == [("XOAUTH2", user, False), ("XOAUTH2", user, True)] and _runs(runs) == 2
    assert oauth_smtp.envelopes and expired not in result.output and fresh not in result.output


@pytest.mark.parametrize("oauth_smtp", [("OAUTHBEARER",)], indirect=True)
def test_a_refused_smtp_token_is_a_configuration_error(alerts_db, oauth_smtp, oauth_provider, run_cli, monkeypatch,
                                                       tmp_path):
    user = "vanphong@dangbokhoi.example.vn"
    token = _expired(oauth_provider, user)
    monkeypatch.setenv("INTAKE_SMTP_OAUTH2_TOKEN_FILE", _token_file(tmp_path, token))
    result = run_cli("alerts", "--now", AFTER_DEADLINE, "--send")
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1, result.output
    assert result.output.startswith(f"Error: SMTP login as {user} refused by 127.0.0.1:{oauth_smtp.port}: the "
                                    "OAuth2 token from INTAKE_SMTP_OAUTH2_TOKEN_FILE (OAUTHBEARER, asked again "
                                    "once): 535 5.7.8 Authentication credentials invalid (status invalid_token)")
    assert oauth_smtp.sign_ins == [("OAUTHBEARER", user, False)] and oauth_smtp.envelopes == []
    assert token not in result.output
    assert sqlite3.connect(alerts_db).execute("select count(*) from alerts").fetchone()[0] == 0


def test_a_failing_token_command_leaves_the_alerts_for_the_next_run(alerts_db, oauth_smtp, run_cli, monkeypatch):
    monkeypatch.setenv("INTAKE_SMTP_OAUTH2_TOKEN_COMMAND", "echo 'token endpoint unreachable' >&2; exit 2")
    result = run_cli("alerts", "--now", AFTER_DEADLINE, "--send")
    assert result.exit_code == 1
    assert (f"Error: cannot sign in to the SMTP server 127.0.0.1:{oauth_smtp.port}: INTAKE_SMTP_OAUTH2_TOKEN_COMMAND: "
            "the command exited with status 2: token endpoint unreachable; what is still due is sent on the next "
            "run") in result.output
    assert oauth_smtp.sign_ins == []
    assert sqlite3.connect(alerts_db).execute("select count(*) from alerts").fetchone() == (0,)
