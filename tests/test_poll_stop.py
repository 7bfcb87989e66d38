"""SIGTERM stops `intake poll` within 5 s whatever the server does (issue 21): the test's own Dovecot
is frozen with SIGSTOP (the connection stays open, nothing answers) at the greeting, in the middle
of a pass and in IDLE; then, thawed, a new poller stores every mail exactly once."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest

from tests.processes import count, environment, start, wait_for
from tests.servers import Dovecot, dovecot_missing
from tests.test_imap import _append, _assert_exactly_once, _env, _mail

STOP_WITHIN = 5.0


@pytest.fixture(scope="module")
def frozen_server():
    """A Dovecot of these tests alone: freezing the session's would stall every other IMAP test."""
    reason = dovecot_missing()
    if reason:
        pytest.skip(reason)
    server = Dovecot()
    server.start()
    yield server
    _thaw(server)
    server.cleanup()


def _processes(server: Dovecot) -> list[int]:
    return [server._master.pid, *server._descendants()] if server._master else []


def _freeze(server: Dovecot) -> None:
    _signal_all(server, signal.SIGSTOP)


def _thaw(server: Dovecot) -> None:
    _signal_all(server, signal.SIGCONT)


def _signal_all(server: Dovecot, signum: int) -> None:
    for pid in _processes(server):
        with contextlib.suppress(ProcessLookupError):  # a short-lived child that ended since it was listed
            os.kill(pid, signum)


def _seconds_to_stop(poller) -> float:
    began = time.monotonic()
    poller.send_signal(signal.SIGTERM)
    out, err = poller.communicate(timeout=60)
    took = time.monotonic() - began
    assert poller.returncode == 0 and "Traceback" not in err, err
    return took


@pytest.mark.parametrize("moment", ["at the greeting", "mid-pass", "in IDLE"])
def test_sigterm_stops_poll_within_5_s_while_the_server_hangs(frozen_server, moment, tmp_path):
    server = frozen_server
    user, pw = f"frozen-{moment.split()[-1].lower()}", "mat-khau"
    server.add_user(user, pw)
    db = tmp_path / "intake.db"
    env = environment(**_env(server, user, pw, db), INTAKE_WORKERS="1")
    mails = [_mail(n, moment) for n in range(60)]
    _append(server, user, pw, mails)
    if moment == "at the greeting":
        _freeze(server)
        poller = start("poll", env=env)
        time.sleep(3)  # well into its start-up and its connection attempt
    else:
        poller = start("poll", env=env)
        stored = 1 if moment == "mid-pass" else len(mails)
        wait_for(lambda: count(db, "select count(*) from messages") >= stored, 120, f"{stored} mails stored")
        if moment == "in IDLE":
            time.sleep(1)  # back in IDLE after the pass
        _freeze(server)
    try:
        took = _seconds_to_stop(poller)
    finally:
        _thaw(server)
    assert took < STOP_WITHIN, f"{took:.1f} s to stop {moment}"
    # Nothing lost: once the server answers again, a new poller catches up, each mail once.
    passes = "select coalesce(sum(passes), 0) from polls where status = 'ok'"
    before = count(db, passes)
    poller = start("poll", env=env)
    wait_for(lambda: count(db, passes) > before, 120, "a pass of the next poller")
    wait_for(lambda: count(db, "select count(*) from messages where complete = 1") == len(mails), 120,
             "the next poller to catch up")
    _seconds_to_stop(poller)
    _assert_exactly_once(db, [m[0] for m in mails], user)
