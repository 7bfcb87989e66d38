"""Alerts at the edges: facts from SQLite, mail over SMTP, every attempt logged in `alerts`.

`rules.alerts.due_alerts` decides what is due; this module reads its facts, builds the mails
(Vietnamese, plain text + HTML, RFC 3834 headers), sends them one recipient at a time, and records
each attempt. An alert is sent once: a (key, recipient) with a row `sent` (or `sending`, see
below) is never sent again; a `failed` one (the server refused that mail) is retried on the next
run, up to MAX_ATTEMPTS. A server that cannot be reached, or refuses the login or the TLS
settings, fails no alert: nothing is recorded and the run stops.

Auto-Submitted (RFC 3834): acknowledgements answer a mail, so they carry `auto-replied` plus
In-Reply-To/References; reminders, overdue notices, digests and late-arrival notices answer
nothing, so they carry `auto-generated`. Both make other robots (and intake itself) ignore them.

Before sending, a `sending` row is written in its own transaction: two runs at once (poll and a
manual `intake alerts --send`) cannot both send, and a crash between the claim and the result leaves
`sending`, which is not retried (better one lost mail than a unit written to twice).
"""

from __future__ import annotations

import base64
import json
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, getaddresses, make_msgid

import sqlite_utils

from pipeline import oauth2, schema
from pipeline.flow import mail_facts
from pipeline.secrets import SecretFileError, read_secret_file
from pipeline.settings import SettingError, Settings
from pipeline.settings import load as load_settings
from pipeline.store import load_decisions
from pipeline.tls import certificate_error, is_loopback, plaintext_port_error, verified_context
from rules.alerts import Alert, Receipt, due_alerts, mail_alert_key
from rules.campaign import Campaign
from rules.decisions import Corrected, correct
from rules.status import corrected_status, unit_status
from rules.vocabulary import AlertKind, AlertOutcome

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a recipient the server keeps refusing is given up after this many failed runs


class SmtpUnavailable(Exception):
    """The SMTP server could not be reached: no alert is at fault, so none counts an attempt.
    `results` holds what the run had sent before."""

    def __init__(self, message: str, results: list | None = None):
        super().__init__(message)
        self.results = results or []


class AlertConfigError(SettingError):
    """SMTP settings that cannot work; the message names the variable."""


@dataclass
class AlertSettings:
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)  # never logged, never stored
    smtp_starttls: bool = False
    smtp_ssl: bool = False  # implicit TLS (SMTPS, port 465)
    smtp_auth: str = "password"  # INTAKE_SMTP_AUTH
    smtp_tokens: oauth2.TokenSource | None = None  # with OAuth2
    sender: str | None = None  # INTAKE_SMTP_FROM, e.g. "Văn phòng Đảng ủy Khối <vanphong@...>"
    staff: list[str] = field(default_factory=list)  # used when a campaign has no `staff:` (see staff_addresses)
    per_hour: int = 10  # mails per recipient per hour; the excess waits for a later run
    max_age_days: float = 7.0  # acknowledge / report late only younger mail; overdue only this long after the deadline
    enabled: bool = True  # INTAKE_ALERTS=0 switches off the alerts `intake poll` runs
    timeout: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        """from_settings() of the INTAKE_* variables in `env` (default: this process's)."""
        try:
            settings = load_settings(env)
        except SettingError as exc:
            raise AlertConfigError(str(exc)) from None
        return cls.from_settings(settings)

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertSettings:
        """The INTAKE_SMTP_* and INTAKE_ALERTS* settings, checked together. The password file wins
        over INTAKE_SMTP_PASSWORD, as for IMAP. With OAuth2 and neither SMTP token setting, the IMAP
        token is used (Microsoft 365 and Gmail give one token for both)."""
        password = settings.smtp_password
        if settings.smtp_password_file:
            try:
                password = read_secret_file(settings.smtp_password_file, "INTAKE_SMTP_PASSWORD_FILE")
            except SecretFileError as exc:
                raise AlertConfigError(str(exc)) from None
        starttls, implicit = settings.smtp_starttls, settings.smtp_ssl
        if implicit and starttls:
            raise AlertConfigError("INTAKE_SMTP_SSL=1 (implicit TLS) and INTAKE_SMTP_STARTTLS=1 exclude each other: "
                                   "port 465 wants the first, 587 the second")
        port = settings.smtp_port or (465 if implicit else 25)
        if port == 465 and (starttls or implicit is False):  # the server would wait for a TLS handshake
            raise AlertConfigError("port 465 is SMTP over implicit TLS: set INTAKE_SMTP_SSL=1 (not STARTTLS), "
                                   "or use port 587 for STARTTLS")
        if implicit is None:  # unset: port 465 speaks implicit TLS, every other port plain SMTP first
            implicit = port == 465 and not starttls
        tokens = None
        if settings.smtp_auth != "password":
            own = settings.smtp_oauth2_token_command or settings.smtp_oauth2_token_file
            shared = not own and (settings.imap_oauth2_token_command or settings.imap_oauth2_token_file)
            which = "IMAP" if shared else "SMTP"
            tokens = oauth2.token_source(
                settings.imap_oauth2_token_command if shared else settings.smtp_oauth2_token_command,
                settings.imap_oauth2_token_file if shared else settings.smtp_oauth2_token_file,
                f"INTAKE_{which}_OAUTH2_TOKEN_COMMAND", f"INTAKE_{which}_OAUTH2_TOKEN_FILE", AlertConfigError)
        return cls(
            smtp_host=settings.smtp_host,
            smtp_port=port,
            smtp_user=settings.smtp_user,
            smtp_password=password or None,
            smtp_starttls=starttls,
            smtp_ssl=implicit,
            smtp_auth=settings.smtp_auth,
            smtp_tokens=tokens,
            sender=settings.smtp_from,
            staff=[a.lower() for a in settings.staff],
            per_hour=settings.alerts_per_hour,
            max_age_days=settings.alerts_max_age_days,
            enabled=settings.alerts,
        )

    @property
    def sender_address(self) -> str | None:
        pairs = getaddresses([self.sender]) if self.sender else []
        return pairs[0][1].lower() if pairs and "@" in pairs[0][1] else None

    def check_smtp(self) -> None:
        """Raise AlertConfigError unless mail can be sent with these settings."""
        if not self.smtp_host:
            raise AlertConfigError("INTAKE_SMTP_HOST is not set: cannot send alerts")
        if not self.sender_address:
            raise AlertConfigError("INTAKE_SMTP_FROM must be the office's address, e.g. vanphong@example.vn")
        if self.smtp_tokens and not self.smtp_user:
            raise AlertConfigError(f"INTAKE_SMTP_AUTH={self.smtp_auth} needs INTAKE_SMTP_USER: the mailbox the token "
                                   "is for")
        if self.smtp_user and not (self.smtp_starttls or self.smtp_ssl) and not is_loopback(self.smtp_host):
            raise AlertConfigError("refusing to send the SMTP password or token unencrypted: set "
                                   "INTAKE_SMTP_STARTTLS=1 (port 587) or INTAKE_SMTP_SSL=1 (port 465)")
        if self.smtp_user and not self.smtp_tokens and not self.smtp_password:
            raise AlertConfigError("INTAKE_SMTP_USER is set but neither INTAKE_SMTP_PASSWORD nor "
                                   "INTAKE_SMTP_PASSWORD_FILE is")


@dataclass
class AlertResult:
    alert: Alert
    outcomes: dict[str, str]  # recipient → sent | failed | deferred

    def as_json(self) -> dict:
        return {**self.alert.as_json(), "outcomes": self.outcomes}


# ---- facts from the database -----------------------------------------------------------------------

def _key_text(key: tuple[str, ...]) -> str:
    return json.dumps(list(key), ensure_ascii=False)


def already_sent(db: sqlite_utils.Database) -> set[tuple[tuple[str, ...], str]]:
    """(key, recipient) pairs that must not be sent again: sent, in flight, or given up.

    An alert about a mail also counts under the mail's content key of today: `intake reprocess`
    after an improvement may change the key, and the submission must not be answered again (nor,
    for a mail staff said was a unit's, answered again for that unit)."""
    rows = db.execute("""select key, recipient from alerts group by key, recipient
        having sum(outcome in (?, ?)) > 0 or sum(outcome = ?) >= ?""",
                      [AlertOutcome.SENT, AlertOutcome.SENDING, AlertOutcome.FAILED, MAX_ATTEMPTS])
    sent = {(tuple(json.loads(k)), r) for k, r in rows.fetchall()}
    about_mail = db.execute("""select distinct a.kind, a.campaign_id, m.content_key, a.recipient,
            case when json_array_length(a.key) = 4 then a.unit_id end from alerts a
        join messages m on m.id = a.message where a.outcome in (?, ?) and m.content_key is not null""",
                            [AlertOutcome.SENT, AlertOutcome.SENDING])
    return sent | {(mail_alert_key(kind, campaign, key, unit), r)
                   for kind, campaign, key, r, unit in about_mail.fetchall()}


def receipts(db: sqlite_utils.Database, campaign: Campaign, corrected: Corrected) -> list[Receipt]:
    """The campaign's stored mails (with the staff decisions applied: a paper submission is none),
    each with its unit's status once it arrived."""
    mails = corrected.mails
    rows = {r["id"]: r for r in db.query("select id, from_addr, subject, message_id from messages where id in "
                                         "(select value from json_each(?))", [json.dumps([m.id for m in mails])])}
    result = []
    for m in mails:
        if m.received_at is None or m.id not in rows:
            continue
        same_unit = [x for x in mails if x.unit == m.unit] if m.unit else [m]
        row = rows[m.id]
        result.append(Receipt(m, row["from_addr"], row["subject"] or "", row["message_id"], m.unit_basis,
                              unit_status(campaign, m.unit, same_unit, m.received_at, corrected)))
    return result


def staff_addresses(campaign: Campaign, settings: AlertSettings) -> tuple[list[str], str]:
    """Who gets the late-arrival notices and the digest of `campaign`, and where that comes from:
    its `staff:`, else INTAKE_STAFF, else the office's own address (INTAKE_SMTP_FROM), so that
    they never go to no one unsaid. ([], why) when none of them is set."""
    if campaign.staff:
        return list(campaign.staff), "staff: in the campaign file"
    if settings.staff:
        return list(settings.staff), "INTAKE_STAFF"
    if settings.sender_address:
        return [settings.sender_address], ("INTAKE_SMTP_FROM, the office's own address: the campaign has no "
                                           "staff: and INTAKE_STAFF is not set")
    return [], "nobody: set staff: in the campaign file, INTAKE_STAFF or INTAKE_SMTP_FROM"


def due(db: sqlite_utils.Database, campaigns: list[Campaign], settings: AlertSettings,
        now: datetime) -> list[Alert]:
    """Every alert due at `now`, with the recipients not yet sent to. Sends nothing."""
    sent = already_sent(db)
    max_age = timedelta(days=settings.max_age_days) if settings.max_age_days else None
    office = [settings.sender_address] if settings.sender_address else []
    result = []
    decisions = load_decisions(db)
    for campaign in campaigns:
        corrected = correct(campaign, mail_facts(db, campaign, decisions), decisions)
        result += due_alerts(campaign, corrected_status(campaign, corrected, now), receipts(db, campaign, corrected),
                             sent, now,
                             staff=staff_addresses(campaign, settings)[0], office=office, max_age=max_age)
    return result


# ---- mail -----------------------------------------------------------------------------------------

def build_message(alert: Alert, recipient: str, settings: AlertSettings) -> Message:
    """The mail for one recipient. Built with the compat32 classes on purpose: the modern email
    policy folds long Vietnamese subjects with the space between two encoded words outside them,
    and readers then drop it ("nămthực")."""
    msg = MIMEMultipart("alternative")
    name, address = (getaddresses([settings.sender or ""]) or [("", "")])[0]
    msg["From"] = formataddr((name, address), charset="utf-8")
    msg["To"] = recipient
    msg["Subject"] = Header(alert.subject, "utf-8")  # type: ignore[assignment]  # compat32 takes a Header
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain=(settings.sender_address or "intake.invalid").split("@")[-1])
    if alert.kind == AlertKind.ACKNOWLEDGEMENT:
        msg["Auto-Submitted"] = "auto-replied"
        if alert.in_reply_to:
            msg["In-Reply-To"] = f"<{alert.in_reply_to.strip('<>')}>"
            msg["References"] = f"<{alert.in_reply_to.strip('<>')}>"
    else:
        msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office replies to this
    msg["X-Intake-Alert"] = alert.kind
    utf8 = Charset("utf-8")
    utf8.body_encoding = QP
    # the stubs want a charset name; a Charset object is what carries the quoted-printable choice
    msg.attach(MIMEText(alert.text, "plain", utf8))  # type: ignore[arg-type]
    msg.attach(MIMEText(alert.html, "html", utf8))  # type: ignore[arg-type]
    return msg


def _login(conn: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login() encodes credentials as ASCII; AUTH PLAIN (RFC 4616) is UTF-8, so a
    Vietnamese password is sent that way by hand."""
    if (user + password).isascii():
        conn.login(user, password)
        return
    conn.ehlo_or_helo_if_needed()
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
    code, response = conn.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, response)


def _oauth2_login(conn: smtplib.SMTP, s: AlertSettings, tokens: oauth2.TokenSource) -> None:
    """AUTH with an access token. AlertConfigError when the server offers no OAuth2 mechanism or
    refuses the token."""
    conn.ehlo_or_helo_if_needed()
    offered = conn.esmtp_features.get("auth", "").upper().split()
    where = f"{s.smtp_host}:{s.smtp_port}"
    try:
        oauth2.sign_in(s.smtp_auth, offered, s.smtp_user or "", s.smtp_host or "", s.smtp_port, tokens, conn.auth,
                       smtplib.SMTPAuthenticationError, _error_text)
    except oauth2.NotOffered as exc:
        raise AlertConfigError(f"{where} {exc}: check INTAKE_SMTP_AUTH") from None
    except oauth2.TokenRefused as exc:
        raise AlertConfigError(f"SMTP login as {s.smtp_user} refused by {where}: {exc}") from None


class _Smtp:
    """One connection for a run, opened on first use and reopened after the server drops it."""

    def __init__(self, settings: AlertSettings):
        self.settings = settings
        self.conn: smtplib.SMTP | None = None

    def send(self, msg: Message, recipient: str) -> None:
        """Raises AlertConfigError for a setting the server refuses (certificate, TLS mode, login)
        and SmtpUnavailable when it cannot be reached; any other error concerns this mail only."""
        if self.conn is None:
            self.conn = self._open()
        try:
            self.conn.send_message(msg, from_addr=self.settings.sender_address, to_addrs=[recipient])
        except (smtplib.SMTPServerDisconnected, OSError):
            self.close()
            raise

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = verified_context()
        conn: smtplib.SMTP | None = None
        try:
            if s.smtp_ssl:
                conn = smtplib.SMTP_SSL(s.smtp_host or "", s.smtp_port, timeout=s.timeout, context=context)
            else:
                conn = smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=s.timeout)
            if s.smtp_starttls:
                conn.starttls(context=context)
            if s.smtp_tokens:
                _oauth2_login(conn, s, s.smtp_tokens)
            elif s.smtp_user:
                _login(conn, s.smtp_user, s.smtp_password or "")
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, oauth2.TokenUnavailable):  # the token service, not a setting: try again later
                raise SmtpUnavailable(f"cannot sign in to the SMTP server {s.smtp_host}:{s.smtp_port}: {exc}") from None
            if isinstance(exc, ssl.SSLCertVerificationError):
                raise AlertConfigError(certificate_error(s.smtp_host or "", s.smtp_port, exc)) from None
            wrong_port = plaintext_port_error(exc, s.smtp_host or "", s.smtp_port, "INTAKE_SMTP_SSL", 465, 587,
                                              "INTAKE_SMTP_STARTTLS=1")
            if wrong_port:
                raise AlertConfigError(wrong_port) from None
            if isinstance(exc, smtplib.SMTPAuthenticationError):
                raise AlertConfigError(f"SMTP login as {s.smtp_user} refused by {s.smtp_host}:{s.smtp_port}: "
                                       f"{_error_text(exc)}") from None
            if isinstance(exc, smtplib.SMTPNotSupportedError):
                raise AlertConfigError(f"{s.smtp_host}:{s.smtp_port} does not offer STARTTLS: set "
                                       "INTAKE_SMTP_SSL=1 with its implicit-TLS port (usually 465)") from None
            if isinstance(exc, OSError):  # refused, unreachable, timed out, a 4xx greeting
                raise SmtpUnavailable(f"cannot reach the SMTP server {s.smtp_host}:{s.smtp_port}: "
                                      f"{_error_text(exc)}") from None
            raise
        return conn

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (smtplib.SMTPException, OSError):
                self.conn.close()
            self.conn = None


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {msg}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r}: {c} {m.decode('utf-8', 'replace') if isinstance(m, bytes) else m}"
                         for r, (c, m) in exc.recipients.items())
    return f"{type(exc).__name__}: {exc}"


def _record(db: sqlite_utils.Database, alert: Alert, recipient: str, now: datetime, outcome: str) -> int:
    schema.insert(db.conn, "alerts", [{
        "key": _key_text(alert.key), "kind": alert.kind, "campaign_id": alert.campaign, "unit_id": alert.unit,
        "message": alert.message, "recipient": recipient, "subject": alert.subject, "outcome": outcome,
        "as_of": now.isoformat(), "attempted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }])
    return db.conn.execute("select last_insert_rowid()").fetchone()[0]


def _claim(db: sqlite_utils.Database, alert: Alert, recipient: str, now: datetime) -> int | None:
    """Write a `sending` row unless someone already sent or is sending; None when taken."""
    with db.conn:
        db.execute("begin immediate")
        if (alert.key, recipient) in already_sent(db):
            return None
        return _record(db, alert, recipient, now, AlertOutcome.SENDING)


def _sent_last_hour(db: sqlite_utils.Database, recipient: str) -> int:
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(timespec="seconds")
    return db.execute("select count(*) from alerts where recipient = ? and outcome in (?, ?) and attempted_at >= ?",
                      [recipient, AlertOutcome.SENT, AlertOutcome.SENDING, since]).fetchone()[0]


def run_due_alerts(db: sqlite_utils.Database, campaigns: list[Campaign], settings: AlertSettings,
                   now: datetime) -> list[AlertResult]:
    """Send every alert due at `now` that was not sent yet; record each attempt. Raises
    AlertConfigError when SMTP is not configured. Safe to call on every poll."""
    settings.check_smtp()
    results: list[AlertResult] = []
    smtp = _Smtp(settings)
    try:
        for alert in due(db, campaigns, settings, now):
            outcomes: dict[str, str] = {}
            for recipient in alert.recipients:
                if settings.per_hour and _sent_last_hour(db, recipient) >= settings.per_hour:
                    outcomes[recipient] = AlertOutcome.DEFERRED
                    continue
                row = _claim(db, alert, recipient, now)
                if row is None:
                    continue
                try:
                    smtp.send(build_message(alert, recipient, settings), recipient)
                except (AlertConfigError, SmtpUnavailable) as exc:
                    # Nothing reached the recipient and the fault is the setting or the server, not
                    # this alert: no attempt to count, so an outage never uses up MAX_ATTEMPTS.
                    with db.conn:
                        db.conn.execute("delete from alerts where id = ?", [row])
                    if isinstance(exc, SmtpUnavailable):
                        raise SmtpUnavailable(str(exc), results) from None
                    raise
                except (smtplib.SMTPException, OSError) as exc:
                    error = _error_text(exc)
                    log.warning("alert %s to %s failed: %s", alert.kind, recipient, error)
                    with db.conn:
                        db.conn.execute("update alerts set outcome = ?, error = ? where id = ?",
                                        [AlertOutcome.FAILED, error, row])
                    outcomes[recipient] = AlertOutcome.FAILED
                    continue
                with db.conn:
                    db.conn.execute("update alerts set outcome = ?, sent_at = ? where id = ?",
                                    [AlertOutcome.SENT, datetime.now(timezone.utc).isoformat(timespec="seconds"), row])
                outcomes[recipient] = AlertOutcome.SENT
            if outcomes:
                results.append(AlertResult(alert, outcomes))
    finally:
        smtp.close()
    return results
