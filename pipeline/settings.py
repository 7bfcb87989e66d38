"""Every setting of intake, declared once: its variable, type, default, what it accepts, its help.

`load()` reads the environment, here and nowhere else, into one typed `Settings`, which the CLI
hands to the code that needs it (the extractors get theirs through `extractor_config()`). A bad
value raises SettingError naming the variable and what it accepts: one line, exit status 2, for
every command. The README's configuration table is rendered from these declarations
(`markdown_table()`; tests/test_docs.py fails when the README differs).
"""

from __future__ import annotations

import math
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

import rules
from extractors.certificates import TrustRoots, TrustRootsError
from extractors.config import ExtractorConfig
from extractors.limits import Limits

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "intake.db"
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
_MB = 1024 * 1024
AUTH_CHOICES = ("password", "oauth2", "xoauth2", "oauthbearer")  # INTAKE_IMAP_AUTH, INTAKE_SMTP_AUTH


class SettingError(ValueError):
    """A setting with a value intake cannot use; the message names the variable and what it accepts."""


def default_rules() -> str:
    """The campaign files shipped with intake (the `rules` package folder)."""
    return str(Path(rules.__file__).parent)


def metadata_path() -> str:
    """metadata.yml at the project root: what staff see in Datasette."""
    return str(ROOT / "metadata.yml")


@dataclass(frozen=True)
class Spec:
    """How one setting is written and documented (its type and default are the Settings field's)."""

    var: str
    help: str
    flag: str = ""  # the command-line option that overrides it, as the README shows it
    default_text: str = ""  # the default in words, where the plain value would not say it
    unit: str = ""  # what a number counts ("MB", "seconds"), for the error message
    minimum: float | None = None  # at least this
    positive: bool = False  # above 0
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)  # other spellings of a choice
    secret: bool = False  # never logged: a password, or a file holding one
    check: Callable[[str], None] | None = None  # raises SettingError for text of the wrong form
    hint: str = ""  # added to the error message: what the user probably meant
    is_file: bool = False  # a secret file: its contents are redacted too

    @property
    def verbatim(self) -> bool:
        """A password is taken as written: spaces are part of it."""
        return self.secret and not self.is_file


def _check_imap_action(text: str) -> None:
    """The form of each action; whether the folders it names are polled is poll's to check."""
    from pipeline.imap import Action  # here: pipeline.imap reads its settings from this module

    for item in text.split(","):
        Action.parse(item.partition("=")[2] if "=" in item else item)


def setting(var: str, default: Any, help: str, **spec: Any) -> Any:
    """A field of Settings, with its Spec in the field's metadata."""
    return field(default=default, metadata={"spec": Spec(var, help, **spec)})


@dataclass(frozen=True)
class Settings:
    """Every setting, typed; the defaults are the declared ones. Fields in the order of the README."""

    db: str = setting("INTAKE_DB", DEFAULT_DB, "SQLite database file", flag="--db")
    rules: str = setting("INTAKE_RULES", default_rules(), "a campaign file or a folder of them", flag="--rules",
                         default_text="the bundled `rules/`")
    workers: int | None = setting(
        "INTAKE_WORKERS", None, "processes reading mails in parallel (`ingest`, `reprocess`, `poll`)",
        flag="--workers", default_text="one per usable CPU", unit="processes", minimum=1)
    busy_timeout: float = setting(
        "INTAKE_BUSY_TIMEOUT", 30.0, "seconds a command that writes waits for another process's write (a backup, "
        "an export, another command) before it stops with one line and exit status 1; `poll` waits and tries "
        "again instead, with backoff. Commands that only read never wait", unit="seconds", positive=True)
    host: str = setting("INTAKE_HOST", "127.0.0.1", "address `intake serve` listens on", flag="serve --host")
    port: int = setting("INTAKE_PORT", 8001, "port `intake serve` listens on", flag="serve --port", minimum=1,
                        maximum=65535)
    password_hash: str | None = setting(
        "INTAKE_PASSWORD_HASH", None, "staff password hash for `intake serve` (`datasette hash-password`); "
        "unset: no login", default_text="none", secret=True)
    username: str = setting("INTAKE_USERNAME", "vanphong", "the staff login name")

    imap_host: str | None = setting("INTAKE_IMAP_HOST", None, "IMAP server `intake poll` reads", flag="poll --host")
    imap_port: int | None = setting("INTAKE_IMAP_PORT", None, "its port (`993` only with implicit TLS)",
                                    flag="poll --port", default_text="`993` (`143` with `starttls`/`0`)",
                                    minimum=1, maximum=65535)
    imap_user: str | None = setting("INTAKE_IMAP_USER", None, "mailbox login", flag="poll --user")
    imap_password: str | None = setting(
        "INTAKE_IMAP_PASSWORD", None, "its password (never logged or stored)", secret=True)
    imap_password_file: str | None = setting(
        "INTAKE_IMAP_PASSWORD_FILE", None, "a file holding the password, readable by its owner only; "
        "it wins over `INTAKE_IMAP_PASSWORD`", flag="poll --password-file", secret=True, is_file=True)
    imap_auth: str = setting(
        "INTAKE_IMAP_AUTH", "password", "how to sign in: `password` (IMAP LOGIN), `oauth2` (an OAuth2 access token "
        "by SASL XOAUTH2, or OAUTHBEARER when the server offers only that; Microsoft 365, Gmail), `xoauth2` or "
        "`oauthbearer` (that mechanism only)", choices=AUTH_CHOICES)
    imap_oauth2_token_command: str | None = setting(
        "INTAKE_IMAP_OAUTH2_TOKEN_COMMAND", None, "with OAuth2: a command (run by `/bin/sh`) that prints a fresh "
        "access token, e.g. `pizauth show m365`; run at every sign-in, and once more when the server refuses its "
        "token; never logged", secret=True)
    imap_oauth2_token_file: str | None = setting(
        "INTAKE_IMAP_OAUTH2_TOKEN_FILE", None, "with OAuth2, instead of the command: a file holding the access "
        "token, kept fresh by a refresh tool, readable by its owner only; read at every sign-in", secret=True,
        is_file=True)
    imap_ssl: str = setting(
        "INTAKE_IMAP_SSL", "1", "`1` implicit TLS, `starttls`, or `0` plaintext (refused unless the host is "
        "loopback); the certificate is always verified (see `SSL_CERT_FILE`)", flag="poll --ssl",
        choices=("1", "starttls", "0"),
        aliases={**{w: "1" for w in TRUE_WORDS}, "ssl": "1", "tls": "1", **{w: "0" for w in FALSE_WORDS}})
    imap_folder: tuple[str, ...] = setting("INTAKE_IMAP_FOLDER", ("INBOX",), "folders to read, comma-separated",
                                           flag="poll --folder")
    imap_action: str = setting(
        "INTAKE_IMAP_ACTION", "none", "after a mail is stored: `none`, `flag` (`\\Flagged`), `flag:$Intake` "
        "(a keyword), `move:FOLDER` (created when missing); per folder `INBOX=move:Đã nhận,Khác=flag`",
        flag="poll --action", check=_check_imap_action)
    imap_interval: float = setting(
        "INTAKE_IMAP_INTERVAL", 60.0, "seconds between passes (without IDLE; with IDLE, a full pass at least "
        "this often)", flag="poll --interval", unit="seconds", positive=True)
    imap_idle: bool = setting("INTAKE_IMAP_IDLE", True, "`0` to poll even when the server offers IDLE")

    smtp_host: str | None = setting("INTAKE_SMTP_HOST", None, "SMTP server for alerts (`intake alerts --send`, "
                                    "poll)", default_text="none: alerts cannot be sent")
    smtp_port: int | None = setting("INTAKE_SMTP_PORT", None, "its port",
                                    default_text="`25` (`465` with `INTAKE_SMTP_SSL=1`)", minimum=1, maximum=65535)
    smtp_user: str | None = setting("INTAKE_SMTP_USER", None, "login, when the server wants one")
    smtp_password: str | None = setting("INTAKE_SMTP_PASSWORD", None, "its password (never logged or stored)",
                                        secret=True)
    smtp_password_file: str | None = setting(
        "INTAKE_SMTP_PASSWORD_FILE", None, "a file holding the password, readable by its owner only; "
        "it wins over `INTAKE_SMTP_PASSWORD`", secret=True, is_file=True)
    smtp_auth: str = setting(
        "INTAKE_SMTP_AUTH", "password", "how to sign in: `password` (when `INTAKE_SMTP_USER` is set), or `oauth2`, "
        "`xoauth2`, `oauthbearer` as for IMAP (with `INTAKE_SMTP_USER`, the mailbox the token is for)",
        choices=AUTH_CHOICES)
    smtp_oauth2_token_command: str | None = setting(
        "INTAKE_SMTP_OAUTH2_TOKEN_COMMAND", None, "as `INTAKE_IMAP_OAUTH2_TOKEN_COMMAND`, for SMTP", secret=True,
        default_text="when neither SMTP token setting is set, the IMAP ones (one token can cover both)")
    smtp_oauth2_token_file: str | None = setting(
        "INTAKE_SMTP_OAUTH2_TOKEN_FILE", None, "as `INTAKE_IMAP_OAUTH2_TOKEN_FILE`, for SMTP", secret=True,
        is_file=True, default_text="the IMAP one's, as above")
    smtp_starttls: bool = setting(
        "INTAKE_SMTP_STARTTLS", False, "`1` to use STARTTLS, usually on port `587` (STARTTLS or "
        "`INTAKE_SMTP_SSL` is required with a login, except on loopback)")
    smtp_ssl: bool | None = setting(
        "INTAKE_SMTP_SSL", None, "`1` implicit TLS (SMTPS, usually port `465`, which takes nothing else), `0` not; "
        "not together with `INTAKE_SMTP_STARTTLS`", default_text="`1` when the port is `465`, else `0`",
        hint="for STARTTLS set INTAKE_SMTP_STARTTLS=1")
    smtp_from: str | None = setting("INTAKE_SMTP_FROM", None, "the office's address alerts come from, e.g. "
                                    "`Văn phòng <vanphong@…>`")
    staff: tuple[str, ...] = setting("INTAKE_STAFF", (), "comma-separated staff addresses, for campaigns without "
                                     "`staff:`; without either, the digest and late-arrival notices go to "
                                     "`INTAKE_SMTP_FROM`")
    alerts_per_hour: int = setting(
        "INTAKE_ALERTS_PER_HOUR", 10, "most alerts to one recipient per hour; the excess waits for a later run "
        "(`0`: no limit)", unit="alerts", minimum=0)
    alerts_max_age_days: float = setting(
        "INTAKE_ALERTS_MAX_AGE_DAYS", 7.0, "acknowledge / report late only mail younger than this, and send "
        "overdue notices only this long after the deadline (`0`: any age)", unit="days", minimum=0)
    alerts: bool = setting("INTAKE_ALERTS", True, "`0` stops `intake poll` from sending alerts")
    trust_roots: str | None = setting(
        "INTAKE_TRUST_ROOTS", None, "PEM bundle of the CAs whose digital signatures the office accepts (the "
        "government CA, VNPT-CA, Viettel-CA, ...): a signature is `trusted` when its chain reaches one; unreadable "
        "or not PEM: exit status 2", default_text="none: signatures are read and verified, their chains not judged")

    soffice: str | None = setting("INTAKE_SOFFICE", None, "LibreOffice's `soffice`, for .doc/.rtf (a wrong path "
                                  "counts as not installed)", default_text="`soffice` on PATH")
    soffice_timeout: float = setting("INTAKE_SOFFICE_TIMEOUT", 120.0, "seconds before a conversion is killed and "
                                     "the file flagged", unit="seconds", positive=True)
    soffice_jobs: int = setting("INTAKE_SOFFICE_JOBS", 2, "conversions at once, across all workers",
                                unit="conversions", minimum=1)
    tesseract: str | None = setting("INTAKE_TESSERACT", None, "`tesseract`, for scanned PDF pages and attached "
                                    "images", default_text="`tesseract` on PATH")
    ocr_dpi: int = setting("INTAKE_OCR_DPI", 300, "resolution scanned pages are rendered at for OCR",
                           unit="dots per inch", minimum=72, maximum=600)
    ocr_psm: str = setting("INTAKE_OCR_PSM", "6", "tesseract's page segmentation mode for scans and images: `6` "
                           "one block of text (keeps a report's lines whole), `4` one column of lines of "
                           "different sizes, `3` automatic, `11` sparse text",
                           choices=("1", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"))
    ocr_jobs: int = setting("INTAKE_OCR_JOBS", 1, "OCR runs at once, across all workers", unit="OCR runs",
                            minimum=1)
    ocr_timeout: float = setting("INTAKE_OCR_TIMEOUT", 120.0, "seconds before one tesseract run is killed and "
                                 "the page flagged", unit="seconds", positive=True)

    max_attachment_mb: float = setting("INTAKE_MAX_ATTACHMENT_MB", 50.0, "bigger attachments are stored raw but "
                                       "not read (flag `too_large`); an attached .msg is not opened, a .msg's RTF "
                                       "body not decompressed", unit="MB", positive=True)
    max_archive_mb: float = setting("INTAKE_MAX_ARCHIVE_MB", 200.0, "one archive (zip, 7z, winmail.dat), nested "
                                    "ones included: most uncompressed MB (flag `archive_limit`)",
                                    unit="MB", positive=True)
    max_archive_ratio: float = setting("INTAKE_MAX_ARCHIVE_RATIO", 100.0, "an archive member past 1 MB: highest "
                                       "compression ratio (flag `archive_limit`)", positive=True)
    max_archive_depth: int = setting("INTAKE_MAX_ARCHIVE_DEPTH", 3, "archives opened inside each other, the outer "
                                     "one included (flag `archive_limit`)", unit="levels", positive=True)
    max_archive_entries: int = setting("INTAKE_MAX_ARCHIVE_ENTRIES", 500, "members of one archive, nested ones "
                                       "included (flag `archive_limit`)", unit="members", positive=True)
    max_xml_mb: float = setting("INTAKE_MAX_XML_MB", 50.0, "one XML part of a .docx: most uncompressed MB (flag "
                                "`too_large`; entities are never expanded)", unit="MB", positive=True)
    max_xml_elements: int = setting("INTAKE_MAX_XML_ELEMENTS", 2_000_000, "one XML part of a .docx: most tags "
                                    "(flag `too_large`)", unit="tags", positive=True)
    max_pdf_pages: int = setting("INTAKE_MAX_PDF_PAGES", 300, "only the first N pages of a PDF (or of a "
                                 "multi-page TIFF scan) are read (flag `truncated`)", unit="pages", positive=True)
    max_seconds_per_file: float = setting("INTAKE_MAX_SECONDS_PER_FILE", 120.0, "wall-clock budget for one PDF, "
                                          "checked between pages (flag `timeout`)", unit="seconds", positive=True)
    max_mail_mb: float = setting("INTAKE_MAX_MAIL_MB", 100.0, "a bigger mail is stored whole but only its headers "
                                 "are read (flag `too_large`; raise it and run `intake reprocess` to open the "
                                 "mail)", unit="MB", positive=True)
    max_mime_parts: int = setting("INTAKE_MAX_MIME_PARTS", 500, "parts of one mail, forwarded ones included; a "
                                  ".msg's recipients, attachments and attached items too (flag `mime_limit`)",
                                  unit="parts", positive=True)
    max_mime_depth: int = setting("INTAKE_MAX_MIME_DEPTH", 30, "multipart nesting, and Outlook items nested in a "
                                  ".msg (flag `mime_limit`)", unit="levels", positive=True)

    def limits(self) -> Limits:
        """The limits on hostile input, in the units the readers count in."""
        return Limits(
            max_attachment_bytes=int(self.max_attachment_mb * _MB), max_archive_bytes=int(self.max_archive_mb * _MB),
            max_archive_ratio=self.max_archive_ratio, max_archive_depth=self.max_archive_depth,
            max_archive_entries=self.max_archive_entries, max_xml_bytes=int(self.max_xml_mb * _MB),
            max_xml_elements=self.max_xml_elements, max_pdf_pages=self.max_pdf_pages,
            max_seconds_per_file=self.max_seconds_per_file, max_mail_bytes=int(self.max_mail_mb * _MB),
            max_mime_parts=self.max_mime_parts, max_mime_depth=self.max_mime_depth,
            soffice_timeout=self.soffice_timeout, ocr_timeout=self.ocr_timeout)

    def extractor_config(self) -> ExtractorConfig:
        """What the extractors are configured with (they never read the environment). The trust bundle
        is read here, once: one that cannot be read or is not PEM is a SettingError."""
        return ExtractorConfig(limits=self.limits(), soffice=self.soffice, tesseract=self.tesseract,
                               ocr_dpi=self.ocr_dpi, ocr_psm=self.ocr_psm, soffice_jobs=self.soffice_jobs,
                               ocr_jobs=self.ocr_jobs, trust_roots=self.trust_bundle())

    def trust_bundle(self) -> TrustRoots | None:
        """INTAKE_TRUST_ROOTS read; None when unset (signature chains are then not judged)."""
        if not self.trust_roots:
            return None
        try:
            return TrustRoots.load(self.trust_roots)
        except TrustRootsError as exc:
            raise SettingError(f"INTAKE_TRUST_ROOTS: {exc}") from None

    def secrets(self) -> list[str]:
        """Every configured secret, the contents of password files included, for the log's redaction:
        longest first, so a password containing another is replaced whole; one- and two-character
        values would turn every log line into stars and protect nothing."""
        values = []
        for f, spec in declared():
            value = getattr(self, f)
            if spec.secret and value and spec.is_file:
                try:
                    with open(value, encoding="utf-8") as handle:
                        values.append(handle.read().rstrip("\r\n"))
                except (OSError, UnicodeDecodeError):
                    pass  # the command that needs it reports the problem
            elif spec.secret and value:
                values.append(value)
        return sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)


@cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Settings)


def declared() -> Iterator[tuple[str, Spec]]:
    """(field name, Spec) of every setting, in declaration order."""
    for f in fields(Settings):
        yield f.name, f.metadata["spec"]


def spec(name: str) -> Spec:
    """The Spec of one field of Settings."""
    return next(s for f, s in declared() if f == name)


def field_type(name: str) -> Any:
    """The type of one field of Settings, e.g. `int | None`."""
    return _hints()[name]


def load(env: Mapping[str, str] | None = None) -> Settings:
    """The settings in `env` (default: this process's environment). Raises SettingError."""
    env = os.environ if env is None else env
    values = {}
    for name, s in declared():
        text = env.get(s.var)
        if text is not None and (text if s.verbatim else text.strip()):
            values[name] = parse(s, _hints()[name], text)
    return Settings(**values)


def _base(hint: Any) -> Any:
    """int for `int | None`, and so on."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def parse(s: Spec, hint: Any, text: str) -> Any:
    """One variable's value, as its field's type. Raises SettingError."""
    kind = _base(hint)
    word = text.strip()
    if kind is bool:
        if word.lower() in TRUE_WORDS:
            return True
        if word.lower() in FALSE_WORDS:
            return False
    elif kind in (int, float):
        try:
            number = int(word) if kind is int else float(word)
        except ValueError:
            number = None
        if number is not None and math.isfinite(number) and _in_range(s, number):
            return number
    elif typing.get_origin(kind) is tuple:
        return tuple(item.strip() for item in word.split(",") if item.strip())
    elif s.choices:
        choice = s.aliases.get(word.lower(), word.lower())
        if choice in s.choices:
            return choice
    else:
        if s.check:
            s.check(word)
        return text if s.verbatim else word
    shown = "(hidden)" if s.secret else repr(word)
    raise SettingError(f"{s.var} must be {accepts(s, kind)}, not {shown}" + (f"; {s.hint}" if s.hint else ""))


def _in_range(s: Spec, number: float) -> bool:
    return ((s.minimum is None or number >= s.minimum) and (s.maximum is None or number <= s.maximum)
            and (not s.positive or number > 0))


def accepts(s: Spec, kind: Any) -> str:
    """What a variable accepts, in words: the second half of its error message."""
    if kind is bool:
        return f"1 or 0 (or {'/'.join(TRUE_WORDS[1:])}, {'/'.join(FALSE_WORDS[1:])})"
    if s.choices:
        return "one of " + ", ".join(s.choices)
    if kind in (int, float):
        what = "whole number" if kind is int else "number"
        of = f" of {s.unit}" if s.unit else ""
        if s.minimum is not None and s.maximum is not None:
            return f"a {what}{of} from {s.minimum:g} to {s.maximum:g}"
        if s.positive:
            return f"a positive {what}{of}"
        return f"a {what}{of}, at least {s.minimum:g}"
    return "text"


# ---- the README's configuration table

# Read by the TLS library itself, documented with intake's own settings (after INTAKE_SMTP_SSL).
SSL_CERT_FILE = Spec(
    "SSL_CERT_FILE", "PEM file of the CAs whose certificates IMAP and SMTP servers may present (OpenSSL's "
    "standard variable, read by Python's default TLS context; it takes the place of the system's CA bundle file, "
    "so an office with an internal CA points it at a copy of that bundle with its CA appended). Verification is "
    "never switched off: a certificate that does not verify stops `intake poll` (IMAP) and `intake alerts --send` "
    "with one line and exit status 2, and switches `intake poll`'s alerts off for the run with a warning",
    default_text="the system CAs")


def _shown_default(s: Spec, value: Any) -> str:
    if s.default_text:
        return s.default_text
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{int(value)}`"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`" if value else "none"
    if isinstance(value, float) and value.is_integer():
        return f"`{value:g}`"
    return f"`{value}`"


def markdown_table() -> str:
    """The README's table of settings, one row per variable."""
    rows = ["| variable | flag | meaning | default |", "| --- | --- | --- | --- |"]
    defaults = Settings()
    for name, s in declared():
        rows.append(f"| `{s.var}` | {f'`{s.flag}`' if s.flag else ''} | {s.help} | "
                    f"{_shown_default(s, getattr(defaults, name))} |")
        if s.var == "INTAKE_SMTP_SSL":
            rows.append(f"| `{SSL_CERT_FILE.var}` |  | {SSL_CERT_FILE.help} | {SSL_CERT_FILE.default_text} |")
    return "\n".join(rows) + "\n"
