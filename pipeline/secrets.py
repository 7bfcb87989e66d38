"""Passwords and OAuth2 tokens: read from files only the owner can read, and never written to a log.

The IMAP and SMTP passwords come from INTAKE_*_PASSWORD or a file named by INTAKE_*_PASSWORD_FILE
(the file wins); OAuth2 access tokens from a command or a file (pipeline/oauth2.py). A file that
group or others can read leaks the mailbox to every account on the machine, so it is refused (the
CLI exits 2) rather than warned about: a warning scrolls by in a cron log unread. Whatever an
exception or a library prints, the log filter installed by the CLI replaces every configured
secret (pipeline/settings.py `Settings.secrets()`) with "***", and every token as it is fetched
(`redact_also`).
"""

from __future__ import annotations

import logging
import os
import stat

REDACTED = "***"


class SecretFileError(Exception):
    """A password file that cannot be used: unreadable, or readable by group or others."""


def read_secret_file(path: str, variable: str) -> str:
    """The password in `path` (first line, newline stripped). Raises SecretFileError with a message
    naming the variable and the file."""
    try:
        with open(path, encoding="utf-8") as f:
            mode = os.fstat(f.fileno()).st_mode  # the file actually opened, not a name swapped since
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise SecretFileError(
                    f"{variable} {path} can be read by other users (mode {stat.filemode(mode)}): "
                    f"run chmod 600 {path}")
            return f.read().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not text"
        raise SecretFileError(f"{variable}: cannot read {path}: {reason}") from None


class RedactSecrets(logging.Filter):
    """Replaces each secret in a record's message and traceback with "***"; never drops a record."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = list(secrets)

    def add(self, secret: str) -> None:
        if secret and secret not in self.secrets:
            self.secrets = sorted([*self.secrets, secret], key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep the raw parts
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self._clean(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def install_redaction(secrets: list[str]) -> RedactSecrets:
    """Attach the filter to every handler of the root logger (handler filters see records from
    every logger; a logger's own filter sees only records logged on it)."""
    redactor = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    return redactor


def redact_also(secret: str) -> None:
    """One more secret, learned while running (an OAuth2 token just fetched), for every filter
    install_redaction() put on the root logger's handlers."""
    for handler in logging.getLogger().handlers:
        for redactor in handler.filters:
            if isinstance(redactor, RedactSecrets):
                redactor.add(secret)
