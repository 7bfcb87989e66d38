"""Shared fixtures. Real components only: files on disk, real SQLite, the real CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from extractors import config as extractor_config
from pipeline.cli import cli
from pipeline.settings import default_rules
from pipeline.settings import load as load_settings
from rules.campaign import load_campaign

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_INBOX = ROOT / "pipeline" / "sample_inbox"
SHARED = ROOT.parent / "shared"
CAMPAIGN_FILE = Path(default_rules()) / "nq03-2022.yml"


def pytest_terminal_summary(terminalreporter, config):
    """The order the tests ran in (pytest-randomly), even under -q, so a failure that depends on it
    can be run again in the same order."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(f"tests ran in random order: repeat it with --randomly-seed={seed}")


@pytest.fixture(scope="session")
def campaign():
    return load_campaign(CAMPAIGN_FILE)


@pytest.fixture(scope="session")
def saved_corpus_dir(tmp_path_factory):
    """Where tests.fixtures.saved_corpus keeps the PDFs LibreOffice saved and their scans, per session."""
    return tmp_path_factory.mktemp("saved-corpus")


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    """Run `intake ...` in-process with a fresh database; returns click's Result."""
    monkeypatch.setenv("INTAKE_DB", str(tmp_path / "intake.db"))
    monkeypatch.setenv("INTAKE_RULES", str(CAMPAIGN_FILE))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def db(tmp_path):
    """A fresh database in the test's own directory (tmp_path / "intake.db")."""
    from pipeline.store import open_db

    database = open_db(str(tmp_path / "intake.db"))
    yield database
    database.close()


@pytest.fixture
def settings_env(monkeypatch):
    """set(NAME=value, ...): INTAKE_* variables for the CLI, and the same settings installed for the
    extractors called directly (as the CLI installs them); all undone after the test."""

    def set_env(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        extractor_config.configure(load_settings().extractor_config())

    return set_env


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory):
    """The bundled sample inbox, ingested once for the whole session."""
    from pipeline.flow import ingest
    from pipeline.store import open_db

    path = tmp_path_factory.mktemp("sample") / "intake.db"
    db = open_db(str(path))
    ingest(db, [str(SAMPLE_INBOX)], [load_campaign(CAMPAIGN_FILE)])
    return db


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test when it is absent (a clone without shared/)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch):
    # Tests must not depend on the developer's own settings, nor on those a test before installed.
    for key in list(os.environ):
        if key.startswith("INTAKE_"):
            monkeypatch.delenv(key)
    extractor_config.configure(extractor_config.ExtractorConfig())
    yield
    extractor_config.configure(extractor_config.ExtractorConfig())


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port; `.messages` are the delivered mails."""
    from tests.servers import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


# ---- Live IMAP (issue 4): one real Dovecot on loopback for the session, a fresh user per test.

@pytest.fixture(scope="session")
def dovecot():
    """A running Dovecot (tests/servers.py); the IMAP tests skip when it is not installed."""
    yield from _running_dovecot()


def _running_dovecot(**options):
    """A started tests.servers.Dovecot(**options), cleaned up afterwards; skips without Dovecot."""
    from tests.servers import Dovecot, dovecot_missing

    reason = dovecot_missing()
    if reason:
        pytest.skip(reason)
    server = Dovecot(**options)
    server.start()
    yield server
    server.cleanup()


def _new_user(server, request) -> tuple[str, str]:
    import hashlib
    import re

    # The name cut short for reading, the hash so parametrized variants of one test get mailboxes of their own.
    tag = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]
    user = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40] + f"-{tag}-{os.getpid()}"
    server.add_user(user, "mat-khau-" + user)
    return user, "mat-khau-" + user


@pytest.fixture
def imap_user(dovecot, request):
    """(user, password) of a mailbox nobody else uses."""
    return _new_user(dovecot, request)


# ---- TLS: a throwaway CA, trusted by setting SSL_CERT_FILE to `tls_ca.ca_file` (as an office with an
# internal CA would), and a Dovecot speaking implicit TLS (`ssl_port`) and STARTTLS (`port`).

@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory):
    from tests.servers import LocalCA

    return LocalCA(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def tls_cert(tls_ca):
    """(certificate, key) files for 127.0.0.1 and localhost, signed by tls_ca."""
    return tls_ca.issue("127.0.0.1", "localhost")


@pytest.fixture(scope="session")
def dovecot_tls(tls_cert):
    yield from _running_dovecot(tls=tls_cert)


@pytest.fixture
def tls_imap_user(dovecot_tls, request):
    """(user, password) of a fresh mailbox on dovecot_tls."""
    return _new_user(dovecot_tls, request)


# ---- OAuth2 (issue 18): a pretend provider's tokens, and a Dovecot that signs in with them.

@pytest.fixture(scope="session")
def oauth_provider():
    """tests/servers.py OAuthProvider: `issue(user)` gives a good token, `expire(token)` ends it."""
    from tests.servers import OAuthProvider

    provider = OAuthProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def dovecot_oauth2(oauth_provider):
    """A Dovecot taking SASL XOAUTH2 and OAUTHBEARER, each token asked of oauth_provider (and
    passwords too, for the tests' own APPENDs)."""
    yield from _running_dovecot(oauth2=oauth_provider.url)


@pytest.fixture
def oauth_imap_user(dovecot_oauth2, request):
    """(user, password) of a fresh mailbox on dovecot_oauth2."""
    return _new_user(dovecot_oauth2, request)
