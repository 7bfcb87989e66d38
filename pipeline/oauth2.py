"""OAuth2 sign-in for IMAP and SMTP: SASL XOAUTH2 (Google's and Microsoft's) and OAUTHBEARER
(RFC 7628), with the access token from the office's own refresh tool.

intake never talks to the provider: a tool the office runs does (it holds the refresh token), and
intake takes the access token it prints (INTAKE_*_OAUTH2_TOKEN_COMMAND) or the file it keeps
fresh (INTAKE_*_OAUTH2_TOKEN_FILE). The token is fetched at every sign-in, never stored, and
added to the log's redaction the moment it is read. A token the server refuses is fetched again
once (it may have expired since it was written); a second refusal is final.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pipeline.secrets import SecretFileError, read_secret_file, redact_also
from pipeline.settings import SettingError

# What `oauth2` signs in with, in this order of preference, when the server offers it. XOAUTH2
# first: Microsoft 365 offers nothing else, Gmail both.
MECHANISMS = ("XOAUTH2", "OAUTHBEARER")
COMMAND_SECONDS = 60.0  # a refresh tool asks the provider's token endpoint over the network


class TokenUnavailable(Exception):
    """No token now: the command failed, printed nothing or hung, or the file cannot be read. Often
    the provider's token service is out of reach for a while (pizauth, for one, fails while it
    refreshes in the background), so a live source retries it like a lost connection."""


@dataclass(frozen=True)
class TokenSource:
    """Where access tokens come from: a command that prints one, or a file a refresh tool rewrites."""

    variable: str  # the setting it comes from, for messages
    command: str | None = field(default=None, repr=False)  # may carry a client secret
    file: str | None = None

    def check(self) -> None:
        """Raises SecretFileError for a token file that is unreadable or readable by others (once, at
        start-up: the command that needs it then exits 2)."""
        if self.file:
            read_secret_file(self.file, self.variable)

    def fetch(self) -> str:
        """A token: the first word the command prints, or the first word of the file (a token has no
        spaces, so a newline or a trailing space does not matter). Raises TokenUnavailable."""
        if self.file:
            try:
                words = read_secret_file(self.file, self.variable).split()
            except SecretFileError as exc:
                raise TokenUnavailable(str(exc)) from None
            token = words[0] if words else ""
        else:
            token = self._run()
        if not token:
            raise TokenUnavailable(f"{self.variable} gave no token")
        redact_also(token)
        return token

    def _run(self) -> str:
        try:
            # Through the shell, as mutt's and msmtp's password commands: "pizauth show m365" or a pipe.
            done = subprocess.run(self.command or "", shell=True, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, errors="replace", timeout=COMMAND_SECONDS)
        except subprocess.TimeoutExpired:
            raise TokenUnavailable(f"{self.variable}: the command printed no token within "
                                   f"{COMMAND_SECONDS:g} s") from None
        except OSError as exc:
            raise TokenUnavailable(f"{self.variable}: the command cannot run: {exc.strerror}") from None
        if done.returncode != 0:
            said = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            raise TokenUnavailable(f"{self.variable}: the command exited with status {done.returncode}"
                                   + (f": {said[-1][:300]}" if said else ""))
        words = done.stdout.split()
        return words[0] if words else ""


def token_source(command: str | None, file: str | None, command_var: str, file_var: str,
                 error: type[SettingError]) -> TokenSource:
    """The token source of one account's settings; `error` (naming the variables) when there is
    none, or two, or the file cannot be used."""
    if command and file:
        raise error(f"{command_var} and {file_var} exclude each other: set one")
    if not (command or file):
        raise error(f"OAuth2 needs a token: set {command_var} (a command printing a fresh access token) "
                    f"or {file_var}")
    source = TokenSource(command_var, command=command) if command else TokenSource(file_var, file=file)
    try:
        source.check()
    except SecretFileError as exc:
        raise error(str(exc)) from None
    return source


class NotOffered(Exception):
    """The server offers none of the mechanisms the setting allows; the message says what it offers."""


class TokenRefused(Exception):
    """The server refused the token, fetched again once; the message says what it said, not the token."""


def choose(setting: str, offered: Iterable[str]) -> str | None:
    """The mechanism to sign in with: for `oauth2` the first of MECHANISMS among those `offered`,
    for `xoauth2` or `oauthbearer` that one when offered; None when the server offers none of them."""
    names = {name.upper() for name in offered}
    wanted = MECHANISMS if setting == "oauth2" else (setting.upper(),)
    return next((m for m in wanted if m in names), None)


class Conversation:
    """One SASL exchange, as imapclient's sasl_login and smtplib's auth call it: the client's first
    message, then, when the server answers with an error challenge instead of success, the reply
    that ends the exchange (the server then says no). `refusal` keeps what the server said."""

    def __init__(self, mechanism: str, user: str, token: str, host: str, port: int):
        self.mechanism = mechanism
        if mechanism == "XOAUTH2":
            self._first = f"user={user}\x01auth=Bearer {token}\x01\x01"
        else:  # RFC 7628 3.1: a GS2 header naming the user, then key=value pairs
            authzid = user.replace("=", "=3D").replace(",", "=2C")
            self._first = f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
        self._sent = False
        self.refusal = ""

    def __call__(self, challenge: bytes | None = None) -> str:
        if not self._sent:
            self._sent = True
            return self._first
        self.refusal = _refusal(challenge or b"")
        # XOAUTH2 ends with an empty reply; OAUTHBEARER with a lone %x01 (RFC 7628 3.2.3).
        return "" if self.mechanism == "XOAUTH2" else "\x01"


def _refusal(challenge: bytes) -> str:
    """The error challenge's status in words: `{"status":"401",...}` → "status 401"."""
    try:
        said = json.loads(challenge)
    except ValueError:
        return challenge.decode("utf-8", "replace")[:200]
    return f"status {said.get('status')}" if isinstance(said, dict) and said.get("status") else ""


def sign_in(setting: str, offered: list[str], user: str, host: str, port: int, tokens: TokenSource,
            send: Callable[[str, Conversation], object], refused: type[BaseException],
            said: Callable[[BaseException], str]) -> None:
    """Sign in by the mechanism `setting` picks among those the server `offered`, the exchange run by
    `send(mechanism, conversation)` (which raises `refused` when the server says no; `said` turns
    that into the server's words). A refused token is fetched again once and tried, unless it is
    the same one: a token printed just before it expired, or a file its tool had not rewritten
    yet, gets one more chance, and a token refused already is not sent twice. Raises NotOffered,
    TokenRefused, and TokenUnavailable from the fetch."""
    mechanism = choose(setting, offered)
    if mechanism is None:
        wanted = " or ".join(MECHANISMS) if setting == "oauth2" else setting.upper()
        raise NotOffered(f"does not offer OAuth2 sign-in by {wanted} (it offers "
                         f"{', '.join(offered) or 'no SASL mechanism'})")
    conversations: list[Conversation] = []

    def attempt(token: str) -> None:
        conversations.append(Conversation(mechanism, user, token, host, port))
        send(mechanism, conversations[-1])

    token = tokens.fetch()
    try:
        try:
            attempt(token)
            return
        except refused:
            fresh = tokens.fetch()
            if fresh == token:
                raise
        attempt(fresh)
    except refused as exc:
        status = conversations[-1].refusal
        raise TokenRefused(f"the OAuth2 token from {tokens.variable} ({mechanism}, asked again once): {said(exc)}"
                           + (f" ({status})" if status else "")) from None
