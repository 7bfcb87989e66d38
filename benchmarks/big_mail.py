"""Peak memory of `intake ingest` and `intake poll --once` over one big mail (issue 21): bounded by
the mail, 300 MB + 2 x its size, not a multiple of it. Both run as child processes with their
worker pools, measured as the sum of the processes' proportional set sizes (benchmarks/measure.py).
The poll needs Dovecot (tests/servers.py); without it its figure is null, with the reason."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from benchmarks import corpus
from benchmarks.measure import intake_env, peak_pss

USER, PASSWORD = "big-mail", "mat-khau-big-mail"
BASE_MB, PER_MAIL_MB = 300.0, 2.0  # the bound: BASE_MB + PER_MAIL_MB x the mail's size
KEYS = ("big_mail_mb", "peak_rss_big_ingest_mb", "big_ingest_of_bound", "peak_rss_big_poll_mb", "big_poll_of_bound")
# Each peak as a share of the bound, so that the target is one number whatever the mail's size.
TARGETS = {"big_ingest_of_bound": (1.0, False), "big_poll_of_bound": (1.0, False)}


def bound_mb(mail_mb: float) -> float:
    return round(BASE_MB + PER_MAIL_MB * mail_mb, 1)


def _of_bound(peak_mb: float | None, mail_mb: float) -> float | None:
    return None if peak_mb is None else round(peak_mb / bound_mb(mail_mb), 2)


def figures(mb: float, base_campaign: Path, work: Path) -> dict:
    raw = corpus.big_mail(mb)
    mail_mb = len(raw) / 1024 / 1024
    (work / "big").mkdir(parents=True, exist_ok=True)
    eml = work / "big" / "big.eml"
    eml.write_bytes(raw)
    rules = corpus.write_rules(base_campaign, work / "big-rules")
    out: dict[str, float | str | None] = {"big_mail_mb": round(mail_mb, 1), "big_mail_bound_mb": bound_mb(mail_mb)}
    t = time.perf_counter()
    peak, _ = peak_pss([sys.executable, "-m", "pipeline", "ingest", "--db", str(work / "big-ingest.db"),
                        "--rules", str(rules), str(eml)], intake_env())
    out.update(peak_rss_big_ingest_mb=round(peak / 1024, 1), big_ingest_s=round(time.perf_counter() - t, 1))
    del raw
    poll = _poll(eml, rules, work)
    return {**out, **poll, "big_ingest_of_bound": _of_bound(peak / 1024, mail_mb),
            "big_poll_of_bound": _of_bound(poll["peak_rss_big_poll_mb"], mail_mb)}


def _poll(eml: Path, rules: Path, work: Path) -> dict:
    from tests.servers import Dovecot, dovecot_missing

    reason = dovecot_missing()
    if reason:
        return {"peak_rss_big_poll_mb": None, "big_poll_skipped": reason}
    server = Dovecot()
    try:
        server.start()
        server.add_user(USER, PASSWORD)
        client = server.client(USER, PASSWORD)
        client.append("INBOX", eml.read_bytes(), msg_time=datetime(2022, 6, 10, 9, 0, tzinfo=corpus.VN))
        client.logout()
        env = intake_env(INTAKE_IMAP_HOST=server.host, INTAKE_IMAP_PORT=str(server.port), INTAKE_IMAP_USER=USER,
                         INTAKE_IMAP_PASSWORD=PASSWORD, INTAKE_IMAP_SSL="0")
        t = time.perf_counter()
        peak, _ = peak_pss([sys.executable, "-m", "pipeline", "poll", "--once", "--db", str(work / "big-poll.db"),
                            "--rules", str(rules)], env)
        return {"peak_rss_big_poll_mb": round(peak / 1024, 1), "big_poll_s": round(time.perf_counter() - t, 1)}
    finally:
        server.cleanup()
