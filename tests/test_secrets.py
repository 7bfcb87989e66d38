"""Issue 8: passwords come from the environment or owner-only files, and never reach a log or the db."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from pipeline.cli import setup_logging
from pipeline.settings import load

SECRET = "mật-khẩu-Bí-Mật-8"
ROOT = Path(__file__).resolve().parent.parent


def test_group_readable_password_file_is_refused(run_cli, tmp_path, monkeypatch):
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n", encoding="utf-8")
    pw.chmod(0o640)
    monkeypatch.setenv("INTAKE_IMAP_HOST", "127.0.0.1")
    monkeypatch.setenv("INTAKE_IMAP_USER", "vanphong")
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD_FILE", str(pw))
    result = run_cli("poll", "--once")
    assert result.exit_code == 2 and "can be read by other users" in result.output and "chmod 600" in result.output
    assert SECRET not in result.output
    monkeypatch.delenv("INTAKE_IMAP_PASSWORD_FILE")
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", "x")
    monkeypatch.setenv("INTAKE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("INTAKE_SMTP_PASSWORD_FILE", str(pw))
    result = run_cli("alerts", "--send")
    assert result.exit_code == 2 and "INTAKE_SMTP_PASSWORD_FILE" in result.output and SECRET not in result.output


def test_log_redacts_configured_secrets_at_every_level(caplog, tmp_path, monkeypatch):
    pw = tmp_path / "pw"
    pw.write_text("tu-file-" + SECRET, encoding="utf-8")
    pw.chmod(0o600)
    monkeypatch.setenv("INTAKE_IMAP_PASSWORD", SECRET)
    monkeypatch.setenv("INTAKE_SMTP_PASSWORD_FILE", str(pw))
    caplog.set_level(logging.DEBUG)
    setup_logging(verbose=True, secrets=load().secrets())  # what the CLI runs
    log = logging.getLogger("pipeline.test")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL):
        log.log(level, "login with %s failed", SECRET)
        log.log(level, f"file password tu-file-{SECRET}")
    try:
        raise RuntimeError(f"server said: bad password {SECRET}")
    except RuntimeError:
        log.exception("poll failed")
    assert SECRET not in caplog.text and "***" in caplog.text
    assert caplog.text.count("***") >= 11


def test_poll_with_a_bad_host_leaks_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(INTAKE_DB=str(tmp_path / "intake.db"), INTAKE_IMAP_HOST="127.0.0.1", INTAKE_IMAP_PORT="1",
               INTAKE_IMAP_USER="vanphong", INTAKE_IMAP_PASSWORD=SECRET, INTAKE_IMAP_SSL="0")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "-v", "poll", "--once"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert SECRET not in proc.stderr and SECRET not in proc.stdout
    if (tmp_path / "intake.db").exists():
        dump = "\n".join(sqlite3.connect(tmp_path / "intake.db").iterdump())
        assert SECRET not in dump
