"""The `intake` command line. Every setting is a flag or an environment variable (INTAKE_*)."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from pipeline import settings
from rules.campaign import Campaign, CampaignError, load_campaigns


class ConfigError(click.ClickException):
    """A usage or configuration problem: exit status 2, one clear message, no traceback."""

    exit_code = 2


def _campaigns(rules: str) -> list[Campaign]:
    try:
        return load_campaigns(rules)
    except CampaignError as exc:
        raise ConfigError(str(exc)) from None


def _pick(campaigns: list[Campaign], campaign_id: str | None) -> Campaign:
    if campaign_id:
        found = next((c for c in campaigns if c.id == campaign_id), None)
        if not found:
            raise ConfigError(f"no campaign '{campaign_id}'; loaded: {', '.join(c.id for c in campaigns)}")
        return found
    if len(campaigns) > 1:
        raise ConfigError(f"several campaigns are loaded ({', '.join(c.id for c in campaigns)}): "
                          "choose one with --campaign ID")
    return campaigns[0]


def _moment(value: str | None) -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--now must be an ISO 8601 date-time, e.g. 2022-06-15T08:00:00+07:00, not {value!r}")
    return moment if moment.tzinfo else moment.astimezone()


def _db(path: str):
    from pipeline.store import open_db

    try:
        return open_db(path)
    except Exception as exc:  # sqlite3 raises several kinds for a path that is no database
        raise ConfigError(f"cannot open database {path}: {exc}") from None


db_option = click.option("--db", "db_path", envvar="INTAKE_DB", default=settings.DEFAULT_DB, show_default=True,
                         help="SQLite database file [env INTAKE_DB]")
rules_option = click.option("--rules", envvar="INTAKE_RULES", default=settings.default_rules, show_default="bundled rules/",
                            help="A campaign file or a folder of them [env INTAKE_RULES]")
campaign_option = click.option("--campaign", "campaign_id", help="Campaign id, when several are loaded")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON")
now_option = click.option("--now", help="Evaluate as of this ISO 8601 moment (default: now)")


def evaluation_options(command):
    """The options of every command that evaluates a campaign at a moment (status, alerts)."""
    for option in (now_option, json_option, campaign_option, rules_option, db_option):
        command = option(command)
    return command


@click.group()
@click.version_option(package_name="intake")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr")
def cli(verbose: bool) -> None:
    """intake: reports emailed by units, checked against the campaign and published to Datasette.

    \b
    Typical use:
      intake ingest mail/             # store and read .eml/.msg files, Maildir or mbox
      intake status                   # who sent, who is late, what is missing
      intake serve                    # browse everything in Datasette
    """
    setup_logging(verbose)
    from extractors.limits import LimitsConfigError, limits

    try:  # a bad INTAKE_MAX_* is a configuration error (exit 2); readers never see it
        limits()
    except LimitsConfigError as exc:
        raise ConfigError(str(exc)) from None


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr, with every configured password replaced by "***" (pipeline/secrets.py)."""
    from pipeline.secrets import install_redaction

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    install_redaction()


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@db_option
@rules_option
@json_option
@click.option("--workers", type=int, help="Processes reading mails in parallel [env INTAKE_WORKERS; default: one per CPU]")
def ingest(sources: tuple[str, ...], db_path: str, rules: str, as_json: bool, workers: int | None) -> None:
    """Store and process mail from .eml and Outlook .msg files, folders of them, Maildir folders or mbox files.

    Every message is kept byte for byte, once; running the command again changes nothing.
    Exit status 1 when some source could not be read (each is named with the reason).
    """
    from pipeline.flow import ingest as run_ingest
    from pipeline.workers import WorkersError, resolve_workers

    try:
        workers = resolve_workers(workers)
    except WorkersError as exc:
        raise ConfigError(str(exc)) from None
    campaigns = _campaigns(rules)
    report = run_ingest(_db(db_path), list(sources), campaigns, workers)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(f"{report.seen} mails seen: {report.new} new, {report.known} already stored")
    for err in report.errors:
        click.echo(f"cannot read {err.source}: {err.reason}", err=True)
    if report.processing_errors:
        click.echo(f"{report.processing_errors} mails could not be processed: see the flags table", err=True)
    sys.exit(1 if report.errors else 0)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@rules_option
@campaign_option
@json_option
def extract(files: tuple[str, ...], rules: str, campaign_id: str | None, as_json: bool) -> None:
    """Read report files (.docx, .pdf ...) and print their kind, metadata and sections.

    Exit status 1 when some file could not be read.
    """
    from extractors.analyze import extract as run_extract

    profile = _pick(_campaigns(rules), campaign_id).profile()
    trust_roots = _trust_roots()
    results, failed = [], False
    for name in files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            results.append({"file": name, "kind": "other", "metadata": {}, "sections": [],
                            "missing_sections": [], "signatures": [], "error": f"cannot read: {exc.strerror}"})
            failed = True
            continue
        ext = run_extract(data, os.path.basename(name), profile, trust_roots)
        item = {
            "file": name, "kind": ext.kind, "format": ext.format, "metadata": ext.metadata.as_json(),
            "sections": [{"key": s.key, "heading": s.heading, "text": s.text, "confidence": s.confidence}
                         for s in ext.sections],
            "missing_sections": ext.missing_sections,
            "signatures": [s.as_json() for s in ext.signatures],
            "flags": [{"kind": f.kind, "detail": f.detail} for f in ext.flags],
        }
        if ext.error:
            item["error"] = ext.error
            failed = True
        results.append(item)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for item in results:
            click.echo(f"{item['file']}: {item['kind']}" + (f" (error: {item['error']})" if "error" in item else ""))
            for s in item["sections"]:
                click.echo(f"  {s['key']:6} {s['heading'][:70]}")
            if item["missing_sections"]:
                click.echo(f"  missing: {', '.join(item['missing_sections'])}")
            for sig in item["signatures"]:
                verdict = {True: "intact", False: "NOT intact", None: "not verified"}[sig["intact"]]
                click.echo(f"  signed: {sig['signer'] or '?'} ({sig['organization'] or '-'}) {sig['signed_at'] or '-'} "
                           f"{verdict}{', modified after signing' if sig['modified_after_signing'] else ''}")
    for item in results:
        if "error" in item:
            click.echo(f"cannot read {item['file']}: {item['error']}", err=True)
    sys.exit(1 if failed else 0)


def _trust_roots():
    """INTAKE_TRUST_ROOTS, the office's PEM bundle of accepted CAs; unset: chains are not checked."""
    from extractors.certificates import TrustRoots, TrustRootsError

    path = os.environ.get("INTAKE_TRUST_ROOTS", "").strip()
    if not path:
        return None
    try:
        return TrustRoots.load(path)
    except TrustRootsError as exc:
        raise ConfigError(f"INTAKE_TRUST_ROOTS: {exc}") from None


@cli.command()
@evaluation_options
def status(db_path: str, rules: str, campaign_id: str | None, as_json: bool, now: str | None) -> None:
    """Each expected unit's status: on_time, late, missing or pending (nothing yet, deadline ahead)."""
    from pipeline.flow import statuses

    campaign = _pick(_campaigns(rules), campaign_id)
    result = statuses(_db(db_path), campaign, _moment(now))
    if as_json:
        click.echo(json.dumps([s.as_json() for s in result], ensure_ascii=False, indent=2))
        return
    for s in result:
        missing = ", ".join(s.missing_attachments + s.missing_sections)
        click.echo(f"{s.unit or '(unknown sender)':24} {s.status:8} {s.received_at.isoformat() if s.received_at else '-':26}"
                   f" {('missing: ' + missing) if missing else ''}")


@cli.command()
@db_option
@rules_option
@campaign_option
def reprocess(db_path: str, rules: str, campaign_id: str | None) -> None:
    """Derive every stored mail again, after an extractor improved or a campaign file changed."""
    from pipeline.flow import reprocess as run_reprocess

    campaigns = _campaigns(rules)
    if campaign_id:
        _pick(campaigns, campaign_id)
    click.echo(f"{run_reprocess(_db(db_path), campaigns, campaign_id)} mails processed again")


@cli.command()
@evaluation_options
@click.option("--send", is_flag=True, help="Send the due alerts over SMTP (INTAKE_SMTP_*); without it nothing is sent")
def alerts(db_path: str, rules: str, campaign_id: str | None, as_json: bool, now: str | None, send: bool) -> None:
    """Reminders, overdue notices, late arrivals and acknowledgements due now, each sent once.

    Without --send, lists what is due and sends nothing. With --send, sends it and records every
    attempt in the `alerts` table; a failed send is retried on the next run. Exit status 1 when a
    send failed or the SMTP server could not be reached (no attempt is counted then).
    """
    from pipeline.alerts import AlertConfigError, AlertSettings, SmtpUnavailable, due, run_due_alerts
    from rules.vocabulary import AlertOutcome

    campaigns = _campaigns(rules)
    if campaign_id:
        campaigns = [_pick(campaigns, campaign_id)]
    unavailable = None
    try:
        settings = AlertSettings.from_env()
        db, moment = _db(db_path), _moment(now)
        if send:
            try:
                results = run_due_alerts(db, campaigns, settings, moment)
            except SmtpUnavailable as exc:
                results, unavailable = exc.results, exc
            items = [r.as_json() for r in results]
        else:
            items = [a.as_json() for a in due(db, campaigns, settings, moment)]
    except AlertConfigError as exc:
        raise ConfigError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
    else:
        for item in items:
            outcomes = item.get("outcomes")
            to = ", ".join(f"{r} ({outcomes[r]})" for r in outcomes) if outcomes else ", ".join(item["recipients"])
            click.echo(f"{item['kind']:16} {item['unit'] or '(staff)':20} {to}")
        if not items:
            click.echo("nothing due" if not send else "nothing sent")
    if unavailable is not None:
        click.echo(f"Error: {unavailable}; what is still due is sent on the next run", err=True)
    if send and (unavailable is not None or any(AlertOutcome.FAILED in r.outcomes.values() for r in results)):
        sys.exit(1)


@cli.command()
@db_option
@rules_option
@click.option("--host", envvar="INTAKE_HOST", default="127.0.0.1", show_default=True, help="Address to listen on")
@click.option("--port", envvar="INTAKE_PORT", default=8001, show_default=True, help="Port to listen on")
def serve(db_path: str, rules: str, host: str, port: int) -> None:
    """Serve the database in Datasette with the Vietnamese labels of metadata.yml."""
    from pipeline.flow import refresh_statuses
    from pipeline.serve import run

    refresh_statuses(_db(db_path), _campaigns(rules))
    run(db_path, host, port)


@cli.command()
@click.option("--db", "db_path", default="demo.db", show_default=True, help="Database file for the demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True)
@click.option("--no-serve", is_flag=True, help="Only build the demo database")
def demo(db_path: str, host: str, port: int, no_serve: bool) -> None:
    """Ingest the bundled sample inbox for campaign nq03-2022 and serve it."""
    from pipeline.flow import ingest as run_ingest
    from pipeline.serve import run

    inbox = Path(__file__).parent / "sample_inbox"
    report = run_ingest(_db(db_path), [str(inbox)], _campaigns(settings.default_rules()))
    click.echo(f"sample inbox: {report.seen} mails, {report.new} new → {db_path}")
    if not no_serve:
        run(db_path, host, port)


@cli.group()
def campaign() -> None:
    """Draft and check campaign files."""


@campaign.command("draft")
@click.argument("letter", type=click.Path(exists=True, dir_okay=False))
@click.argument("outline_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--units", "units_file", type=click.Path(exists=True, dir_okay=False),
              help="Units as CSV (id,name,emails) or YAML")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the YAML here (default: stdout)")
@click.option("--timezone", default="Asia/Ho_Chi_Minh", show_default=True)
def campaign_draft(letter: str, outline_file: str | None, units_file: str | None, output: str | None,
                   timezone: str) -> None:
    """Draft a campaign file from the call letter (.docx, .pdf, .doc, .txt, a scan, or the .eml it came in).

    The outline is read from the đề cương: after the letter's "ĐỀ CƯƠNG" line, from OUTLINE_FILE, or
    from the second file of the mail. The deadline, attachments and keywords are read from the
    letter; what staff should check is marked "# kiểm tra:".
    """
    from pipeline.letters import LetterError, read_letter
    from rules.draft import draft, load_units, to_yaml

    try:
        source = read_letter(letter, outline_file)
    except LetterError as exc:
        click.echo(f"cannot read {exc}", err=True)
        sys.exit(1)
    try:
        units = load_units(units_file) if units_file else []
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{units_file}: cannot read units: {exc}") from None
    if source.letter_name != os.path.basename(letter) or (source.outline_name and not outline_file):
        click.echo(f"letter: {source.letter_name}; đề cương: {source.outline_name or '(inside the letter or none)'}",
                   err=True)
    text = to_yaml(draft(source.letter, timezone, units, outline_text=source.outline, scanned=source.scanned,
                         doubtful=source.doubtful))
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@campaign.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def campaign_check(file: str) -> None:
    """Validate a campaign file and print what intake will expect, and who gets its staff notices."""
    from pipeline.alerts import AlertConfigError, AlertSettings, staff_addresses

    found = _campaigns(file)[0]
    try:
        staff, source = staff_addresses(found, AlertSettings.from_env())
    except AlertConfigError as exc:
        raise ConfigError(str(exc)) from None
    click.echo(f"{found.id}: {found.title}")
    click.echo(f"  deadline: before {found.deadline.isoformat()} ({found.timezone})")
    click.echo("  outline:")
    for node in found.outline:
        click.echo(f"    {'  ' * node.level}{node.key:6} {node.title}")
    click.echo("  attachments:")
    for rule in found.attachments:
        when = {True: "required", False: "optional"}.get(rule.required, f"required if the report mentions "
                                                        f"{' / '.join(rule.mentioned_by)}")
        click.echo(f"    {rule.id}: {rule.title} ({when})")
    click.echo(f"  units: {len(found.units)}" + ("" if found.units else "  (none yet)"))
    click.echo(f"  late arrivals and the digest go to: {', '.join(staff) or '-'} ({source})")


@cli.command()
@db_option
@rules_option
@click.option("--once", is_flag=True, help="One pass over every folder, then exit")
@click.option("--host", help="IMAP server [env INTAKE_IMAP_HOST]")
@click.option("--port", type=int, help="IMAP port [env INTAKE_IMAP_PORT; default 993, or 143 without TLS]")
@click.option("--user", help="IMAP user [env INTAKE_IMAP_USER]")
@click.option("--password-file", help="File holding the password [env INTAKE_IMAP_PASSWORD_FILE or INTAKE_IMAP_PASSWORD]")
@click.option("--ssl", help="1 implicit TLS (default), starttls, or 0 plaintext (loopback only) [env INTAKE_IMAP_SSL]")
@click.option("--folder", help="Folders to read, comma-separated (default INBOX) [env INTAKE_IMAP_FOLDER]")
@click.option("--action", help="After storing: none, flag, flag:KEYWORD or move:FOLDER; per folder "
              "FOLDER=ACTION,... [env INTAKE_IMAP_ACTION]")
@click.option("--interval", type=float, help="Seconds between passes without IDLE (default 60) [env INTAKE_IMAP_INTERVAL]")
def poll(db_path: str, rules: str, once: bool, **flags) -> None:
    """Read new mail from an IMAP mailbox, each message exactly once, until stopped.

    Uses IMAP IDLE where the server offers it (new mail within seconds), else polls every
    --interval seconds. SIGTERM or Ctrl-C stops it after the message in hand. Mails are read with
    BODY.PEEK (never marked as read). Exit status 2 for a bad setting, a refused login or another
    poller already running on the database; 1 when --once cannot reach the server.
    """
    from pipeline.alerts import AlertConfigError, AlertSettings
    from pipeline.imap import ImapAuthError, ImapConfigError, ImapSettings
    from pipeline.poll import NETWORK_ERRORS, AlertSchedule, PollLocked, run

    try:
        imap_settings = ImapSettings.from_env(**flags)
        alert_settings = AlertSettings.from_env()
    except (ImapConfigError, AlertConfigError) as exc:
        raise ConfigError(str(exc)) from None
    from pipeline.secrets import configured_secrets, install_redaction

    # --password-file is not in the environment: redact what was actually loaded too.
    install_redaction(sorted({*configured_secrets(), imap_settings.password, alert_settings.smtp_password or ""} - {""},
                             key=len, reverse=True))
    campaigns = _campaigns(rules)
    # Alerts go out from the loop when SMTP is configured, unless INTAKE_ALERTS=0.
    alerts = AlertSchedule(alert_settings if alert_settings.smtp_host else None)
    try:
        report = run(db_path, imap_settings, campaigns, once=once, open_database=_db, alerts=alerts)
    except (ImapAuthError, PollLocked) as exc:
        raise ConfigError(str(exc)) from None
    except NETWORK_ERRORS as exc:
        click.echo(f"cannot read {imap_settings.host}:{imap_settings.port}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{report.fetched} mails fetched: {report.new} new, {report.skipped} already stored"
               + (f", {report.actions} flagged or moved" if report.actions else ""))
    for err in report.errors:
        click.echo(err, err=True)


@cli.command()
@click.option("--quick", is_flag=True, help="Smaller sizes, under a minute (says which in the output)")
@json_option
def bench(quick: bool, as_json: bool) -> None:
    """Measure speed, scale and memory beside the libraries underneath (benchmarks/).

    A developer's tool: it needs a checkout of the repository (it builds its synthetic inbox with
    the test fixtures) and Dovecot for the two IMAP figures (null, with the reason, without it).
    """
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks").is_dir() or not (root / "tests" / "fixtures").is_dir():
        raise ConfigError("intake bench runs from a checkout of the repository (benchmarks/ and tests/fixtures/)")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # benchmarks/ and tests/ are not installed packages
    from benchmarks.run import run as run_bench
    from benchmarks.run import table

    result = run_bench(quick, Path(settings.default_rules()) / "nq03-2022.yml",
                       progress=lambda step: click.echo(f"measuring {step}...", err=True))
    click.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else table(result))
