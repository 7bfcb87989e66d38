"""Live IMAP intake, one implementation of a live source (pipeline/sources.py): its settings, the
connection, and incremental passes over its folders.

Exactly once rests on three things: the raw store commits a mail (content-addressed) before
anything else happens; the source id "imap:<user>@<host>/<folder>;UIDVALIDITY=<v>;UID=<u>" is
stored with it, so a UID already seen is never downloaded again; and the (folder, UIDVALIDITY,
last UID) checkpoint in `imap_sync` moves only after that commit (pipeline/flow.py
`store_arrivals` commits each mail, then its checkpoint). A crash anywhere at worst repeats work
that is then recognized as done. A mail already stored from another folder (Gmail shows one
message in every label's folder; staff move mail by hand) is recognized before its body is
fetched, by Gmail's X-GM-MSGID where the server offers X-GM-EXT-1, else by Message-ID, size and
INTERNALDATE: its new source is recorded and it counts as already stored. The loop, the lock and
signals are in pipeline/poll.py.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

import sqlite_utils
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from pipeline import oauth2, schema
from pipeline import settings as registry
from pipeline.secrets import SecretFileError, read_secret_file
from pipeline.sources import Advance, Arrival, KnownMail, PassEnd, RawMail, SourceRefused
from pipeline.store import has_source, now_iso, sha256
from pipeline.tls import certificate_error, is_loopback, plaintext_port_error, verified_context

log = logging.getLogger(__name__)

BATCH = 50  # messages per FETCH
BATCH_BYTES = 20_000_000  # and at most this many bytes of bodies in memory at once
IDLE_RENEW = 25 * 60  # RFC 2177: re-issue IDLE before the server's 30-minute inactivity timeout
# The poll options and the settings they override.
FLAGS = {"host": "imap_host", "port": "imap_port", "user": "imap_user", "password_file": "imap_password_file",
         "ssl": "imap_ssl", "folder": "imap_folder", "action": "imap_action", "interval": "imap_interval"}


class ImapConfigError(registry.SettingError):
    """A setting is missing or unsafe (the CLI turns it into exit status 2)."""


class ImapAuthError(SourceRefused):
    """The server refused the login: retrying would not help."""


class ImapTlsError(ImapAuthError):
    """No verified TLS (the certificate does not verify, or no STARTTLS): the server is not
    authenticated, so the password is not sent; retrying would not help either."""


@dataclass(frozen=True)
class Action:
    kind: str = "none"  # none | flag | move
    arg: str = ""  # the flag or keyword, or the target folder

    @classmethod
    def parse(cls, text: str) -> Action:
        kind, _, arg = text.strip().partition(":")
        kind = kind.strip().lower() or "none"
        if kind == "none" and not arg:
            return cls()
        if kind == "flag":
            return cls("flag", arg.strip() or "\\Flagged")
        if kind == "move" and arg.strip():
            return cls("move", arg.strip())
        raise ImapConfigError(f"INTAKE_IMAP_ACTION: {text!r} is not none, flag, flag:KEYWORD or move:FOLDER")


@dataclass
class ImapSettings:
    """One IMAP account to read: the live source `intake poll` runs on."""

    host: str
    user: str
    password: str = field(repr=False)  # never logged, never stored ("" with OAuth2)
    port: int = 993
    ssl: str = "1"  # "1" implicit TLS, "starttls", "0" plaintext (loopback only)
    folders: list[str] = field(default_factory=lambda: ["INBOX"])
    actions: dict[str, Action] = field(default_factory=dict)  # per folder; missing = none
    interval: float = 60.0  # seconds between passes when the server has no IDLE
    idle: bool = True
    timeout: float = 60.0  # socket timeout
    auth: str = "password"  # INTAKE_IMAP_AUTH
    tokens: oauth2.TokenSource | None = None  # with OAuth2
    # Network trouble worth a reconnect (a token service out of reach too); anything else is a bug
    # and should surface.
    transient_errors: ClassVar[tuple[type[BaseException], ...]] = (OSError, EOFError, IMAPClientError,
                                                                    oauth2.TokenUnavailable)

    @property
    def account(self) -> str:
        return f"{self.user}@{self.host}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def action(self, folder: str) -> Action:
        return self.actions.get(folder, Action())

    def connect(self) -> ImapSession:
        return ImapSession(self, login(self))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: object) -> ImapSettings:
        """from_settings() of the INTAKE_* variables in `env` (default: this process's)."""
        try:
            settings = registry.load(env)
        except registry.SettingError as exc:
            raise ImapConfigError(str(exc)) from None
        return cls.from_settings(settings, **flags)

    @classmethod
    def from_settings(cls, settings: registry.Settings, **flags: object) -> ImapSettings:
        """The INTAKE_IMAP_* settings; `flags` (the poll options, non-None values) win over them.

        Flag names: host, port, user, password_file, ssl, folder, action, interval. The password
        file wins over INTAKE_IMAP_PASSWORD; with OAuth2 (INTAKE_IMAP_AUTH) no password is read."""
        texts = {FLAGS[name]: str(value) for name, value in flags.items() if value is not None}
        s = dataclasses.replace(settings, **{name: registry.parse(registry.spec(name), registry.field_type(name), text)
                                             for name, text in texts.items()})
        if not s.imap_host:
            raise ImapConfigError("no IMAP server: set INTAKE_IMAP_HOST or --host")
        if not s.imap_user:
            raise ImapConfigError("no IMAP user: set INTAKE_IMAP_USER or --user")
        password, tokens = "", None
        if s.imap_auth != "password":
            tokens = oauth2.token_source(s.imap_oauth2_token_command, s.imap_oauth2_token_file,
                                         "INTAKE_IMAP_OAUTH2_TOKEN_COMMAND", "INTAKE_IMAP_OAUTH2_TOKEN_FILE",
                                         ImapConfigError)
        elif s.imap_oauth2_token_command or s.imap_oauth2_token_file:
            raise ImapConfigError("an OAuth2 token is configured but INTAKE_IMAP_AUTH is password: set "
                                  "INTAKE_IMAP_AUTH=oauth2")
        elif s.imap_password_file:
            try:
                password = read_secret_file(s.imap_password_file, "INTAKE_IMAP_PASSWORD_FILE")
            except SecretFileError as exc:
                raise ImapConfigError(str(exc)) from None
        else:
            password = s.imap_password or ""
        if not (password or tokens):
            raise ImapConfigError("no IMAP password: set INTAKE_IMAP_PASSWORD or INTAKE_IMAP_PASSWORD_FILE "
                                  "(or INTAKE_IMAP_AUTH=oauth2 and a token)")
        mode = s.imap_ssl
        if mode == "0" and not is_loopback(s.imap_host):
            raise ImapConfigError(f"refusing plaintext IMAP to {s.imap_host}: the password or token would cross the "
                                  "network in clear; use INTAKE_IMAP_SSL=1 or starttls (plaintext is for loopback "
                                  "only)")
        port = s.imap_port or (993 if mode == "1" else 143)
        if port == 993 and mode != "1":  # the server would wait for a TLS handshake until the timeout
            raise ImapConfigError(f"port 993 is IMAP over implicit TLS: set INTAKE_IMAP_SSL=1, or use port 143 "
                                  f"for INTAKE_IMAP_SSL={mode}")
        folders = list(s.imap_folder) or ["INBOX"]
        return cls(host=s.imap_host, user=s.imap_user, password=password, port=port, ssl=mode, folders=folders,
                   actions=parse_actions(s.imap_action, folders), interval=max(s.imap_interval, 0.1),
                   idle=s.imap_idle, auth=s.imap_auth, tokens=tokens)


def parse_actions(text: str, folders: list[str]) -> dict[str, Action]:
    """"ACTION" for every folder, or "FOLDER=ACTION,FOLDER=ACTION"."""
    if not text.strip():
        return {}
    if "=" not in text:
        action = Action.parse(text)
        return {f: action for f in folders}
    actions = {}
    for item in text.split(","):
        folder, sep, written = item.partition("=")
        if not sep or folder.strip() not in folders:
            raise ImapConfigError(f"INTAKE_IMAP_ACTION: {item!r} must be FOLDER=ACTION for a polled folder")
        actions[folder.strip()] = Action.parse(written)
    return actions


def login(settings: ImapSettings) -> IMAPClient:
    """A logged-in connection. LoginError becomes ImapAuthError; a certificate that does not verify,
    a missing STARTTLS or implicit TLS on a plaintext port ImapTlsError; network errors and
    TokenUnavailable propagate."""
    context = verified_context()
    client = None
    try:
        client = IMAPClient(settings.host, port=settings.port, ssl=settings.ssl == "1",
                            ssl_context=context if settings.ssl == "1" else None, timeout=settings.timeout)
        if settings.ssl == "starttls":
            if not client.has_capability("STARTTLS"):
                raise ImapTlsError(f"{settings.host}:{settings.port} does not offer STARTTLS: use INTAKE_IMAP_SSL=1 "
                                   "and its implicit-TLS port (usually 993)")
            client.starttls(context)
        if settings.tokens:
            _oauth2_login(client, settings, settings.tokens)
        else:
            client.login(settings.user, settings.password)
    except LoginError as exc:
        _close(client)
        raise ImapAuthError(f"IMAP login as {settings.account} refused: {_refusal(exc)}") from None
    except ssl.SSLCertVerificationError as exc:
        _close(client)
        raise ImapTlsError(certificate_error(settings.host, settings.port, exc)) from None
    except ssl.SSLError as exc:
        _close(client)
        wrong_port = plaintext_port_error(exc, settings.host, settings.port, "INTAKE_IMAP_SSL", 993, 143,
                                          "INTAKE_IMAP_SSL=starttls")
        if wrong_port:
            raise ImapTlsError(wrong_port) from None
        raise
    except BaseException:
        _close(client)
        raise
    client.normalise_times = False  # INTERNALDATE with its offset, not naive local time
    return client


def _oauth2_login(client: IMAPClient, settings: ImapSettings, tokens: oauth2.TokenSource) -> None:
    """AUTHENTICATE with an access token. ImapAuthError when the server offers no OAuth2 mechanism
    or refuses the token."""
    offered = [c.decode("ascii", "replace")[5:] for c in client.capabilities() if c.upper().startswith(b"AUTH=")]
    try:
        oauth2.sign_in(settings.auth, offered, settings.user, settings.host, settings.port, tokens,
                       client.sasl_login, LoginError, _refusal)
    except oauth2.NotOffered as exc:
        raise ImapAuthError(f"{settings.address} {exc}: check INTAKE_IMAP_AUTH") from None
    except oauth2.TokenRefused as exc:
        raise ImapAuthError(f"IMAP login as {settings.account} refused {exc}") from None


def _refusal(exc: BaseException) -> str:
    """What the server said, from imapclient's LoginError (which hands over repr(bytes))."""
    detail = str(exc.args[0] if exc.args else "")
    return re.sub(r"""^b(['"])(.*)\1$""", r"\2", detail)


def _close(client: IMAPClient | None) -> None:
    if client is None:
        return
    try:
        client.shutdown()
    except (OSError, Exception):  # noqa: BLE001 - the connection is being dropped anyway
        pass


def source_id(settings: ImapSettings, folder: str, uidvalidity: int, uid: int) -> str:
    return f"imap:{settings.account}/{folder};UIDVALIDITY={uidvalidity};UID={uid}"


def has_unseen_uids(db: sqlite_utils.Database, settings: ImapSettings, folder: str, select_info: dict) -> bool:
    """True when a SELECT/EXAMINE response shows UIDs above the checkpoint (or a new UIDVALIDITY)."""
    validity, last_uid = _checkpoint(db, settings.account, folder)
    uidnext = select_info.get(b"UIDNEXT")
    return validity != int(select_info.get(b"UIDVALIDITY", 0)) or uidnext is None or int(uidnext) > last_uid + 1


def _checkpoint(db: sqlite_utils.Database, account: str, folder: str) -> tuple[int | None, int]:
    row = db.execute("select uidvalidity, last_uid from imap_sync where account = ? and folder = ?",
                     [account, folder]).fetchone()
    return (row[0], row[1]) if row else (None, 0)


@dataclass
class UidCheckpoint:
    """The folder's checkpoint at `uid`. `done`, when given, collects the UIDs committed (for the action).
    `gmail_id` (Gmail's X-GM-MSGID of the mail at `uid`) is written on its row of message_sources,
    `source`, which the mail's commit has just added."""

    account: str
    folder: str
    uidvalidity: int
    uid: int
    done: list[int] | None = None
    source: str = ""
    gmail_id: str | None = None

    def commit(self, db: sqlite_utils.Database) -> None:
        with db.conn:
            schema.upsert(db.conn, "imap_sync", [{"account": self.account, "folder": self.folder, "last_uid": self.uid,
                                                  "uidvalidity": self.uidvalidity, "updated_at": now_iso()}])
            if self.gmail_id:
                db.conn.execute("update message_sources set gmail_id = ? where source = ?",
                                [self.gmail_id, self.source])
        if self.done is not None:
            self.done.append(self.uid)


@dataclass(frozen=True)
class Described:
    """What the server tells of a mail before its body: enough to recognize one stored already."""

    message_id: str
    size: int
    internaldate: datetime | None
    gmail_id: str | None = None  # X-GM-MSGID, where the server is Gmail (X-GM-EXT-1)

    @classmethod
    def of(cls, meta: dict) -> Described:
        gmail_id = meta.get(b"X-GM-MSGID")
        return cls(_message_id(meta.get(b"ENVELOPE")), meta.get(b"RFC822.SIZE", -1), meta.get(b"INTERNALDATE"),
                   str(gmail_id) if gmail_id is not None else None)

    @property
    def key(self) -> tuple[str, int, str] | None:
        """(Message-ID, size, INTERNALDATE), when the mail has all three."""
        if not self.message_id or self.internaldate is None:
            return None
        return self.message_id, self.size, self.internaldate.isoformat()


def _known_by_gmail_id(db: sqlite_utils.Database, account: str, gmail_id: str) -> str | None:
    """The stored mail Gmail gave this id in another folder of the same account, if any."""
    prefix = f"imap:{account}/"
    row = db.execute("select sha256 from message_sources where gmail_id = ? and substr(source, 1, ?) = ? limit 1",
                     [gmail_id, len(prefix), prefix]).fetchone()
    return row[0] if row else None


def _known_by_message_id(db: sqlite_utils.Database, key: tuple[str, int, str]) -> str | None:
    """The stored mail with this Message-ID, size and INTERNALDATE (`Described.key`), if any. The
    date guards against a second delivery of one mail (same id, Received headers of the same
    length); a UIDVALIDITY reset, a MOVE, a COPY and Gmail's labels keep INTERNALDATE."""
    row = db.execute("""select r.sha256 from messages m join raw_messages r on r.sha256 = m.id
        join message_sources s on s.sha256 = r.sha256
        where m.message_id = ? and r.size = ? and s.internaldate = ? limit 1""", list(key)).fetchone()
    return row[0] if row else None


def _standard_time(moment: datetime | None) -> datetime | None:
    """INTERNALDATE with a standard library offset: imapclient's own tzinfo does not pickle, and
    the mail goes to a worker process."""
    return datetime.fromisoformat(moment.isoformat()) if moment else None


def _message_id(envelope) -> str:
    raw = getattr(envelope, "message_id", None) or b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.strip().strip("<>")


class ImapSession:
    """One logged-in connection: passes over the folders, and waiting for new mail."""

    def __init__(self, settings: ImapSettings, client: IMAPClient):
        self.settings, self.client = settings, client
        self.folder = settings.folders[0]
        self.gmail = client.has_capability("X-GM-EXT-1")  # Gmail: each message has one id in all folders
        # Mails stored in this pass, by Described.key: their derived rows (and so their Message-IDs)
        # may still be on their way from the workers when another folder shows them again.
        self._stored_in_pass: dict[tuple[str, int, str], str] = {}

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            pass

    def interrupt(self) -> None:
        """From another thread: shut the connection down under the reader (on a duplicate of its
        descriptor, leaving imaplib's and ssl's objects to the thread using them), so a read
        waiting on a server that hangs gets end-of-file at once."""
        try:
            sock = socket.socket(fileno=os.dup(self.client.socket().fileno()))
        except (OSError, AttributeError):
            return  # already closed
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            sock.close()

    def arrivals(self, db: sqlite_utils.Database, stop: Callable[[], bool], catch_up: bool) -> Iterator[Arrival]:
        self._stored_in_pass = {}  # the last pass's mails are derived by now
        for folder in self.settings.folders:
            if stop():
                break
            self.folder = folder
            yield from self._folder(db, folder, stop, catch_up)

    def _folder(self, db: sqlite_utils.Database, folder: str, stop: Callable[[], bool],
                catch_up: bool) -> Iterator[Arrival]:
        """Every message of `folder` above the checkpoint, then the action on those committed.

        With nothing new this is one SELECT (its UIDNEXT says so) and no SEARCH or FETCH. `catch_up`
        also applies the action to stored mails still waiting for it (a crash or a failure between
        the commit and the action)."""
        settings, client = self.settings, self.client
        action = settings.action(folder)
        # EXAMINE when nothing will be changed: the server then cannot set \\Seen or anything else.
        info = client.select_folder(folder, readonly=action.kind == "none")
        uidvalidity = int(info[b"UIDVALIDITY"])
        end = PassEnd(folder, uidvalidity)
        known_validity, last_uid = _checkpoint(db, settings.account, folder)
        if known_validity != uidvalidity:
            if known_validity is not None:
                log.warning("%s: UIDVALIDITY changed (%s -> %s): syncing again, stored mails are skipped",
                            folder, known_validity, uidvalidity)
            last_uid = 0
        uidnext = info.get(b"UIDNEXT")
        new_uids: list[int] = []
        if uidnext is None or int(uidnext) > last_uid + 1:
            new_uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        done: list[int] = []  # UIDs committed and still in the folder, for the action
        for start in range(0, len(new_uids), BATCH):
            if stop():
                break
            yield from self._batch(db, folder, uidvalidity, new_uids[start:start + BATCH], stop, end, done)
        if not stop():
            # Every UID below the SELECT's UIDNEXT has been looked at: move past UIDs of mail deleted
            # before we saw it (else every later SELECT would promise new mail), and record a new
            # UIDVALIDITY even for an empty folder.
            top = max(int(uidnext) - 1 if uidnext else 0, max(done, default=0))
            if known_validity != uidvalidity or top > _checkpoint(db, settings.account, folder)[1]:
                yield Advance(UidCheckpoint(settings.account, folder, uidvalidity, top))
        if action.kind != "none":
            targets = set(done)
            if catch_up:
                checkpoint = _checkpoint(db, settings.account, folder)[1]
                targets |= set(_waiting_for_action(client, db, settings, folder, uidvalidity, action, checkpoint))
            if targets:
                apply_action(client, action, sorted(targets), end)
        yield end

    def _batch(self, db: sqlite_utils.Database, folder: str, uidvalidity: int, uids: list[int],
               stop: Callable[[], bool], end: PassEnd, done: list[int]) -> Iterator[Arrival]:
        """One batch: headers first, bodies only for mails not stored yet."""
        settings, client = self.settings, self.client
        meta = client.fetch(uids, ["ENVELOPE", "RFC822.SIZE", "INTERNALDATE"] + (["X-GM-MSGID"] if self.gmail else []))
        described = {uid: Described.of(meta[uid]) for uid in uids if uid in meta}  # else expunged since the SEARCH
        wanted: list[int] = []
        known: dict[int, str | None] = {}
        for uid, mail in described.items():
            if has_source(db, source_id(settings, folder, uidvalidity, uid)):
                known[uid] = None
            else:
                digest = self.already_stored(db, mail)
                if digest:
                    known[uid] = digest
                else:
                    wanted.append(uid)
        bodies: dict[int, dict] = {}
        for uid in uids:
            if stop():
                break
            # Committed after the mail (a crash before fetches this UID again; after, the source row
            # says "have it" and derive_pending finishes a derivation cut short).
            checkpoint = UidCheckpoint(settings.account, folder, uidvalidity, uid, done if uid in meta else None)
            if uid not in described:
                yield Advance(checkpoint)
                continue
            mail = described[uid]
            internaldate = _standard_time(mail.internaldate)
            source = source_id(settings, folder, uidvalidity, uid)
            if uid in known:
                checkpoint.source, checkpoint.gmail_id = source, mail.gmail_id
                yield KnownMail(source, known[uid], internaldate, checkpoint)
                continue
            if uid not in bodies:
                bodies = client.fetch(_next_group(wanted, uid, meta), ["BODY.PEEK[]"])
                end.fetched += len(bodies)
            raw = bodies.get(uid, {}).get(b"BODY[]")
            if raw is None:  # expunged between the two FETCHes
                yield Advance(checkpoint)
                continue
            checkpoint.source, checkpoint.gmail_id = source, mail.gmail_id
            if mail.key:
                self._stored_in_pass[mail.key] = sha256(raw)  # committed before the next mail is looked at
            yield RawMail(source, raw, internaldate, checkpoint)

    def already_stored(self, db: sqlite_utils.Database, mail: Described) -> str | None:
        """The stored mail this one is, told without its body: by Gmail's id where the server gives
        one, else by Message-ID, size and INTERNALDATE."""
        found = _known_by_gmail_id(db, self.settings.account, mail.gmail_id) if mail.gmail_id else None
        key = mail.key
        if not found and key:
            found = self._stored_in_pass.get(key) or _known_by_message_id(db, key)
        return found

    def wait_for_mail(self, db: sqlite_utils.Database, stop: threading.Event) -> None:
        """Until new mail may be there: IDLE on the first folder when the server has it (new mail is
        announced by EXISTS), else sleep `interval`. Either way every `interval` at most, so other
        folders and a missed notification are caught up."""
        settings, client = self.settings, self.client
        if not (settings.idle and client.has_capability("IDLE")):
            stop.wait(settings.interval)
            return
        info = client.select_folder(settings.folders[0], readonly=True)
        if has_unseen_uids(db, settings, settings.folders[0], info):
            return  # arrived after the pass looked: IDLE would not announce it again
        client.idle()
        try:
            deadline = time.monotonic() + min(settings.interval, IDLE_RENEW)
            quick_empty = 0
            while not stop.is_set() and time.monotonic() < deadline:
                # Short waits so SIGTERM is noticed within a second.
                began = time.monotonic()
                responses = client.idle_check(timeout=1)
                if any(r and r[0] == b"BYE" for r in responses):
                    raise IMAPClientAbortError("the server closed the connection during IDLE")
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    break
                # imapclient's idle_check swallows EOF and returns nothing at once: without this the
                # loop would spin on a dead connection until the next renewal.
                quick_empty = quick_empty + 1 if not responses and time.monotonic() - began < 0.5 else 0
                if quick_empty >= 3:
                    raise IMAPClientAbortError("connection closed during IDLE")
        finally:
            client.idle_done()


def _next_group(wanted: list[int], uid: int, meta: dict) -> list[int]:
    """The bodies to fetch next from `uid` on, bounded by count (the batch) and bytes (BATCH_BYTES)."""
    group, size = [], 0
    for w in wanted[wanted.index(uid):]:
        group.append(w)
        size += meta[w].get(b"RFC822.SIZE", 0)
        if size >= BATCH_BYTES:
            break
    return group


def _waiting_for_action(client: IMAPClient, db: sqlite_utils.Database, settings: ImapSettings, folder: str,
                        uidvalidity: int, action: Action, last_uid: int) -> list[int]:
    """Stored mails at or below the checkpoint that the action has not reached yet."""
    if last_uid < 1:
        return []
    criteria: list = ["UID", f"1:{last_uid}"]
    if action.kind == "flag":
        criteria += ["UNFLAGGED"] if action.arg == "\\Flagged" else ["UNKEYWORD", action.arg]
    uids = client.search(criteria)
    return [u for u in uids if u <= last_uid and has_source(db, source_id(settings, folder, uidvalidity, u))]


def apply_action(client: IMAPClient, action: Action, uids: list[int], result: PassEnd) -> None:
    """Flag or move `uids` (already committed). A failure is logged and recorded, never raised,
    except a lost connection, which the loop handles."""
    try:
        if action.kind == "flag":
            client.add_flags(uids, [action.arg], silent=True)
        elif action.kind == "move":
            if not client.folder_exists(action.arg):
                client.create_folder(action.arg)
            if client.has_capability("MOVE"):
                client.move(uids, action.arg)
            else:
                client.copy(uids, action.arg)
                client.add_flags(uids, [b"\\Deleted"], silent=True)
                # UID EXPUNGE removes only ours; a plain EXPUNGE would also purge what others deleted.
                client.uid_expunge(uids) if client.has_capability("UIDPLUS") else client.expunge()
        result.actions += len(uids)
    except IMAPClientAbortError:
        raise  # the connection is gone: the loop reconnects, catch-up retries the action
    except IMAPClientError as exc:  # the server said NO/BAD: record it, go on
        message = f"{action.kind} {action.arg} of UID {uids[0]}..{uids[-1]} failed: {exc}"
        log.error("%s: %s", result.folder, message)
        result.errors.append(message)
