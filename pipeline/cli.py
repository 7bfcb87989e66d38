"""The `intake` command line. Every setting is a flag or an environment variable (INTAKE_*,
declared in pipeline/settings.py and read once, here, when a command starts)."""

from __future__ import annotations

import json
import logging
import os
import shlex
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from extractors import config as extractor_config
from pipeline import settings as registry
from pipeline.schema import SchemaError
from rules.campaign import SIGNATURE_REQUIRED, Campaign, CampaignError, load_campaigns


class ConfigError(click.ClickException):
    """A usage or configuration problem: exit status 2, one clear message, no traceback."""

    exit_code = 2


class CommandStopped(click.ClickException):
    """A condition that stops a command: one line, no traceback, the exit status it calls for."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it from the instance; its stubs say ClassVar


class IntakeGroup(click.Group):
    """Every bad setting, whichever command meets it, is one line and exit status 2; so is a
    damaged database; a full disk or a write lock held too long is one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except registry.SettingError as exc:
            raise ConfigError(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            run = ctx.find_object(Run)
            stopped = None if run is None or run.db_path is None else run.stopped(exc)
            if stopped is None:
                raise
            raise stopped from exc


@dataclass
class Run:
    """What every command is handed: the settings, and how much to say; and, once a command has
    opened its database, which one and how far it got (for the line that stops it)."""

    settings: registry.Settings
    quiet: bool = False
    db_path: str | None = None
    done: Callable[[], str] = lambda: "no mail stored"

    def say(self, text: str) -> None:
        """A summary line: printed unless -q."""
        if not self.quiet:
            click.echo(text)

    def stopped(self, exc: sqlite3.DatabaseError) -> CommandStopped | None:
        """The line a database error stops the command with, or None for an error that is a bug."""
        from pipeline.store import is_busy, is_full, is_malformed

        path = self.db_path or ""
        if is_full(exc):
            return CommandStopped(f"disk full: {self.done()}; run again after freeing space", 1)
        if is_busy(exc):
            return CommandStopped(f"{path} is locked by another process (a backup, an export?) for more than "
                                  f"{self.settings.busy_timeout:g} s (INTAKE_BUSY_TIMEOUT): {self.done()}; run "
                                  "again when it is done", 1)
        if is_malformed(exc, path):
            return CommandStopped(f"the database {path} is damaged ({exc}): recover what it holds with "
                                  f"sqlite3 {shlex.quote(path)} \".recover\""
                                  f" | sqlite3 {shlex.quote(path + '.recovered')} and use that file", 2)
        return None


def _run() -> Run:
    run = click.get_current_context().find_object(Run)
    assert run is not None, "the group's callback sets it before any command runs"
    return run


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


def _moment(value: str | None, campaigns: list[Campaign]) -> datetime:
    """--now; without an offset it is read in the campaigns' time zone (the office's clock, not
    the machine's), which must then be one."""
    if not value:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--now must be an ISO 8601 date-time, e.g. 2022-06-15T08:00:00+07:00, "
                          f"not {value!r}") from None
    if moment.tzinfo:
        return moment
    zones = sorted({c.timezone for c in campaigns})
    if len(zones) != 1:
        raise ConfigError(f"--now {value} has no offset and the campaigns are in several time zones "
                          f"({', '.join(zones)}): add one, e.g. {value}+07:00")
    return moment.replace(tzinfo=ZoneInfo(zones[0]))


def _opened(path: str, open_it: Callable[[str, float], Any]) -> Any:
    run = _run()
    run.db_path = path
    try:
        return open_it(path, run.settings.busy_timeout)
    except SchemaError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except sqlite3.OperationalError as exc:
        from pipeline.store import cannot_open

        if cannot_open(exc):
            raise ConfigError(f"cannot open database {path}: {exc}") from None
        raise  # busy, full or damaged: IntakeGroup says which


def _db(path: str):
    """The database of a command that writes (created or migrated when needed)."""
    from pipeline.store import open_db

    return _opened(path, open_db)


def _reader(path: str):
    """The database of a command that only reads: read-only, never waiting on a writer."""
    from pipeline.store import open_reader

    return _opened(path, open_reader)


def _workers(value: int | None) -> int:
    from pipeline.workers import default_workers

    if value is not None and value < 1:
        raise ConfigError(f"--workers must be at least 1, not {value}")
    return value or _run().settings.workers or default_workers()


def _setting_option(*names: str, setting: str, **kwargs: Any):
    """An option that overrides a setting: unset, the setting's value (its variable, else its default)."""
    spec = registry.spec(setting)

    def resolve(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        return value if value is not None else getattr(_run().settings, setting)

    default = spec.default_text.replace("`", "") or getattr(registry.Settings(), setting)
    return click.option(*names, callback=resolve, help=f"{kwargs.pop('help', spec.help[0].upper() + spec.help[1:])} "
                        f"[env {spec.var}; default {default}]", **kwargs)


db_option = _setting_option("--db", "db_path", setting="db")
rules_option = _setting_option("--rules", setting="rules")
campaign_option = click.option("--campaign", "campaign_id", help="Campaign id, when several are loaded")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON")
now_option = click.option("--now", help="Evaluate as of this ISO 8601 moment (default: now)")
workers_option = click.option("--workers", type=int, help="Processes reading mails in parallel "
                              "[env INTAKE_WORKERS; default: one per usable CPU]")


def evaluation_options(command):
    """The options of every command that evaluates a campaign at a moment (status, alerts)."""
    for option in (now_option, json_option, campaign_option, rules_option, db_option):
        command = option(command)
    return command


@click.group(cls=IntakeGroup)
@click.version_option(package_name="intake")
@click.option("-v", "--verbose", is_flag=True, help="Log one line per mail (source, id, campaign, unit, documents, "
              "time) and each step, to stderr")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """intake: reports emailed by units, checked against the campaign and published to Datasette.

    \b
    Typical use:
      intake ingest mail/             # store and read .eml/.msg files, Maildir or mbox
      intake status                   # who sent, who is late, what is missing
      intake serve                    # browse everything in Datasette
    """
    if verbose and quiet:
        raise ConfigError("-v and -q exclude each other")
    settings = registry.load()  # every variable checked, whatever the command: a bad one is exit 2
    setup_logging(verbose, quiet, settings.secrets())
    extractor_config.configure(settings.extractor_config())
    ctx.obj = Run(settings, quiet)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (a progress bar's proxy while one is
    shown, so log lines print above the bar)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(verbose: bool = False, quiet: bool = False, secrets: list[str] | None = None) -> None:
    """Log to stderr (-v: INFO, -q: errors only, else warnings), with every secret replaced by "***"
    (pipeline/secrets.py). Like logging.basicConfig, a logging set up by whoever runs intake in
    process (a test runner) is left as it is, apart from the level and the redaction."""
    from pipeline.secrets import install_redaction

    root = logging.getLogger()
    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    ours = [h for h in root.handlers if isinstance(h, _StderrHandler)]
    for old in ours:
        root.removeHandler(old)
    if len(root.handlers) == 0:
        handler = _StderrHandler()
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        root.addHandler(handler)
    if root.getEffectiveLevel() > level:  # never hides from other handlers what they asked for
        root.setLevel(level)
    install_redaction(secrets or [])


def _progress(label: str, as_json: bool):
    from pipeline.progress import mail_progress

    return mail_progress(label, wanted=not as_json and not _run().quiet)


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@db_option
@rules_option
@json_option
@workers_option
def ingest(sources: tuple[str, ...], db_path: str, rules: str, as_json: bool, workers: int | None) -> None:
    """Store and process mail from .eml and Outlook .msg files, folders of them, Maildir folders or mbox files.

    Every message is kept byte for byte, once; running the command again changes nothing.
    Exit status 1 when some source could not be read (each is named with the reason).
    """
    from pipeline.flow import IngestReport
    from pipeline.flow import ingest as run_ingest

    count = _workers(workers)
    campaigns = _campaigns(rules)
    db = _db(db_path)
    report = IngestReport()
    _run().done = lambda: f"{report.new} mails stored"
    with _progress("ingest", as_json) as bar:
        run_ingest(db, list(sources), campaigns, count, on_written=bar.written, report=report)
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        _run().say(f"{report.seen} mails seen: {report.new} new, {report.known} already stored")
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
    trust_roots = extractor_config.current().trust_roots
    results: list[dict[str, Any]] = []
    failed = False
    for name in files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            results.append({"file": name, "kind": "other", "metadata": {}, "sections": [],
                            "missing_sections": [], "signatures": [], "error": f"cannot read: {exc.strerror}"})
            failed = True
            continue
        ext = run_extract(data, os.path.basename(name), profile, trust_roots)
        item: dict[str, Any] = {
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


@cli.command()
@evaluation_options
def status(db_path: str, rules: str, campaign_id: str | None, as_json: bool, now: str | None) -> None:
    """Each expected unit's status: on_time, late, missing or pending (nothing yet, deadline ahead)."""
    from pipeline.flow import statuses

    campaign = _pick(_campaigns(rules), campaign_id)
    result = statuses(_reader(db_path), campaign, _moment(now, [campaign]))
    if as_json:
        click.echo(json.dumps([s.as_json() for s in result], ensure_ascii=False, indent=2))
        return
    for s in result:
        missing = ", ".join([*s.missing_attachments, *s.missing_sections]
                            + ([s.missing_signature] if s.missing_signature else []))
        received = s.received_at.isoformat() if s.received_at else "-"
        click.echo(f"{s.unit or '(unknown sender)':24} {s.status:8} {received:26}"
                   f" {('missing: ' + missing) if missing else ''}")


@cli.command()
@db_option
@rules_option
@campaign_option
@workers_option
@click.option("--rerun-tools", is_flag=True,
              help="Run LibreOffice and tesseract again on every file, and read every scanned page again, "
                   "instead of reusing what they made of the same bytes before (reused only while their "
                   "program and data files, and intake's OCR code, are unchanged)")
def reprocess(db_path: str, rules: str, campaign_id: str | None, workers: int | None, rerun_tools: bool) -> None:
    """Derive every stored mail again, after an extractor improved or a campaign file changed."""
    from pipeline.flow import reprocess as run_reprocess
    from pipeline.tool_outputs import forget

    count = _workers(workers)
    campaigns = _campaigns(rules)
    if campaign_id:
        _pick(campaigns, campaign_id)
    db = _db(db_path)
    if rerun_tools:
        _run().say(f"{forget(db.conn)} kept outputs of LibreOffice and tesseract dropped")
    derived = []

    def written(*args: Any) -> None:
        derived.append(1)
        bar.written(*args)

    _run().done = lambda: f"no mail stored, {len(derived)} derived again"
    with _progress("reprocess", as_json=False) as bar:
        done = run_reprocess(db, campaigns, campaign_id, count, on_written=written, on_total=bar.total)
    _run().say(f"{done} mails processed again")


@cli.command()
@db_option
@click.option("--campaign", "campaign_id", required=True, help="The closed round to move")
@click.option("--to", "archive_path", required=True, type=click.Path(dir_okay=False),
              help="Database file of the archive (created, or one holding rounds archived before)")
def archive(db_path: str, campaign_id: str, archive_path: str) -> None:
    """Move a closed round, its mails and all that was made of them, into a database file of its own."""
    from pipeline.archive import ArchiveError
    from pipeline.archive import archive as run_archive

    try:
        moved = run_archive(_db(db_path), campaign_id, archive_path)
    except ArchiveError as exc:
        raise ConfigError(str(exc)) from None
    _run().say(f"{moved} mails of {campaign_id} moved to {archive_path} (intake serve --db {archive_path} shows them)")


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
    from pipeline.flow import derive_pending
    from rules.vocabulary import AlertOutcome

    loaded = _campaigns(rules)
    campaigns = [_pick(loaded, campaign_id)] if campaign_id else loaded
    unavailable = None
    try:
        settings = AlertSettings.from_settings(_run().settings)
        moment = _moment(now, campaigns)
        if send:
            db = _db(db_path)
            derive_pending(db, loaded, _workers(None))  # a mail half derived would miss its acknowledgement
            try:
                results = run_due_alerts(db, campaigns, settings, moment)
            except SmtpUnavailable as exc:
                results, unavailable = exc.results, exc
            items = [r.as_json() for r in results]
        else:
            items = [a.as_json() for a in due(_reader(db_path), campaigns, settings, moment)]
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
@_setting_option("--host", setting="host", help="Address to listen on")
@_setting_option("--port", setting="port", type=click.IntRange(1, 65535), help="Port to listen on")
def serve(db_path: str, rules: str, host: str, port: int) -> None:
    """Serve the database in Datasette with the Vietnamese labels of metadata.yml."""
    from pipeline.serve import refresh_if_free, run

    refresh_if_free(_db(db_path), _campaigns(rules))
    run(db_path, host, port, _run().settings, rules)


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
    report = run_ingest(_db(db_path), [str(inbox)], _campaigns(registry.default_rules()), _workers(None))
    _run().say(f"sample inbox: {report.seen} mails, {report.new} new → {db_path}")
    if not no_serve:
        run(db_path, host, port, _run().settings, registry.default_rules())


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
        if not _run().quiet:
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
        staff, source = staff_addresses(found, AlertSettings.from_settings(_run().settings))
    except AlertConfigError as exc:
        raise ConfigError(str(exc)) from None
    click.echo(f"{found.id}: {found.title}")
    click.echo(f"  deadline: before {found.deadline.isoformat()} ({found.timezone})")
    click.echo("  outline:")
    for node in found.outline:
        click.echo(f"    {'  ' * node.level}{node.key:6} {node.title}")
    click.echo("  attachments:")
    for rule in found.attachments:
        labels: dict[bool | str, str] = {True: "required", False: "optional"}
        when = labels.get(rule.required, f"required if the report mentions {' / '.join(rule.mentioned_by)}")
        click.echo(f"    {rule.id}: {rule.title} ({when})")
    click.echo(f"  signature: {found.signature}" + (" (the report must carry an intact digital signature, ký số)"
                                                   if found.signature == SIGNATURE_REQUIRED else ""))
    click.echo(f"  units: {len(found.units)}" + ("" if found.units else "  (none yet)"))
    click.echo(f"  late arrivals and the digest go to: {', '.join(staff) or '-'} ({source})")


def decision_options(command):
    """The options of every `intake decide` command."""
    for option in (click.option("--note", help="Why: kept with the decision and shown to staff"),
                   campaign_option, rules_option, db_option):
        command = option(command)
    return command


def _cli_user() -> str:
    """Who runs the command, for the decision's `by`."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return f"uid {os.getuid()}"


def _decide(db_path: str, rules: str, kind: str, target: str, value: str | None = None, *,
            campaign_id: str | None, note: str | None, remember: bool = False) -> None:
    from pipeline.decide import Ask, DecisionError
    from pipeline.decide import decide as make

    campaigns = _campaigns(rules)
    try:
        made = make(_db(db_path), campaigns, Ask(kind, target, value, campaign_id, note, remember), _cli_user())
    except DecisionError as exc:
        raise ConfigError(str(exc)) from None
    shown = " ".join(str(x) for x in (made.kind, made.target, made.value, made.address) if x)
    _run().say(f"decision {made.id}: {shown} ({made.campaign})")


@cli.group()
def decide() -> None:
    """Correct what intake got wrong: staff decisions, kept as said and applied to every status.

    \b
    MAIL is a mail's id, an unambiguous prefix of it (8 characters or more) or its Message-ID;
    ATTACHMENT an attachment's id; UNIT a unit's id in the campaign. Each decision is recorded with
    who made it and when, survives `intake reprocess`, and is withdrawn by `intake decide undo ID`.
    An unknown mail, attachment, unit or kind exits 2 and writes nothing.
    """


@decide.command("assign")
@click.argument("mail")
@click.argument("unit")
@click.option("--remember-sender", is_flag=True, help="Count every mail from this sender address as the unit's")
@decision_options
def decide_assign(mail: str, unit: str, remember_sender: bool, db_path: str, rules: str, campaign_id: str | None,
                  note: str | None) -> None:
    """This mail belongs to UNIT."""
    from rules.vocabulary import DecisionKind

    _decide(db_path, rules, DecisionKind.ASSIGN, mail, unit, campaign_id=campaign_id, note=note,
            remember=remember_sender)


@decide.command("ignore")
@click.argument("mail")
@decision_options
def decide_ignore(mail: str, db_path: str, rules: str, campaign_id: str | None, note: str | None) -> None:
    """This mail does not count for the campaign (spam, a newsletter, another campaign's)."""
    from rules.vocabulary import DecisionKind

    _decide(db_path, rules, DecisionKind.IGNORE, mail, campaign_id=campaign_id, note=note)


@decide.command("kind")
@click.argument("attachment")
@click.argument("kind")
@decision_options
def decide_kind(attachment: str, kind: str, db_path: str, rules: str, campaign_id: str | None,
                note: str | None) -> None:
    """This file is KIND: report, one of the campaign's attachment ids, or other."""
    from rules.vocabulary import DecisionKind

    _decide(db_path, rules, DecisionKind.KIND, attachment, kind, campaign_id=campaign_id, note=note)


@decide.command("exempt")
@click.argument("unit")
@decision_options
def decide_exempt(unit: str, db_path: str, rules: str, campaign_id: str | None, note: str | None) -> None:
    """UNIT is exempt from the campaign: status exempt, no reminder or overdue notice."""
    from rules.vocabulary import DecisionKind

    _decide(db_path, rules, DecisionKind.EXEMPT, unit, campaign_id=campaign_id, note=note)


@decide.command("paper")
@click.argument("unit")
@click.option("--at", "at", required=True, help="When the paper copy came, ISO 8601 (without an offset: the "
              "campaign's time zone)")
@decision_options
def decide_paper(unit: str, at: str, db_path: str, rules: str, campaign_id: str | None, note: str | None) -> None:
    """UNIT submitted on paper: its report and every listed attachment received --at then."""
    from rules.vocabulary import DecisionKind

    _decide(db_path, rules, DecisionKind.PAPER, unit, at, campaign_id=campaign_id, note=note)


@decide.command("note")
@click.argument("unit")
@click.argument("text")
@decision_options
def decide_note(unit: str, text: str, db_path: str, rules: str, campaign_id: str | None, note: str | None) -> None:
    """A note on UNIT in the campaign, shown to staff."""
    from rules.vocabulary import DecisionKind

    _decide(db_path, rules, DecisionKind.NOTE, unit, text, campaign_id=campaign_id, note=note)


@decide.command("undo")
@click.argument("decision_id", metavar="ID")
@decision_options
def decide_undo(decision_id: str, db_path: str, rules: str, campaign_id: str | None, note: str | None) -> None:
    """Withdraw decision ID (the history keeps both)."""
    from rules.vocabulary import DecisionKind

    _decide(db_path, rules, DecisionKind.UNDO, decision_id, campaign_id=campaign_id, note=note)


@cli.command()
@db_option
@rules_option
@campaign_option
@json_option
def decisions(db_path: str, rules: str, campaign_id: str | None, as_json: bool) -> None:
    """Every staff decision (of one campaign with --campaign), newest first, with whether it applies."""
    from pipeline.decide import listed
    from rules.decisions import Roster

    campaigns = _campaigns(rules)
    if campaign_id:
        _pick(campaigns, campaign_id)
    items = listed(_db(db_path), {c.id: Roster.of(c) for c in campaigns},
                   lambda d: campaign_id is None or d.campaign == campaign_id)
    if as_json:
        click.echo(json.dumps([item.as_json() for item in items], ensure_ascii=False, indent=2))
        return
    for item in items:
        d = item.decision
        what = " ".join(str(x) for x in (d.kind, d.target, d.value, d.address) if x)
        state = item.state + (f" {item.by_decision}" if item.by_decision else "")
        click.echo(f"{d.id:>4} {d.at} {d.by or '-':12} {d.campaign:14} {what}  [{state}]"
                   + (f"  {d.note}" if d.note else ""))
    if not items:
        click.echo("no decisions")


@cli.command()
@db_option
@rules_option
@click.option("--once", is_flag=True, help="One pass over every folder, then exit")
@click.option("--host", help="IMAP server [env INTAKE_IMAP_HOST]")
@click.option("--port", type=int, help="IMAP port [env INTAKE_IMAP_PORT; default 993, or 143 without TLS]")
@click.option("--user", help="IMAP user [env INTAKE_IMAP_USER]")
@click.option("--password-file",
              help="File holding the password [env INTAKE_IMAP_PASSWORD_FILE or INTAKE_IMAP_PASSWORD]")
@click.option("--ssl", help="1 implicit TLS (default), starttls, or 0 plaintext (loopback only) [env INTAKE_IMAP_SSL]")
@click.option("--folder", help="Folders to read, comma-separated (default INBOX) [env INTAKE_IMAP_FOLDER]")
@click.option("--action", help="After storing: none, flag, flag:KEYWORD or move:FOLDER; per folder "
              "FOLDER=ACTION,... [env INTAKE_IMAP_ACTION]")
@click.option("--interval", type=float,
              help="Seconds between passes without IDLE (default 60) [env INTAKE_IMAP_INTERVAL]")
def poll(db_path: str, rules: str, once: bool, **flags: Any) -> None:
    """Read new mail from an IMAP mailbox, each message exactly once, until stopped.

    Uses IMAP IDLE where the server offers it (new mail within seconds), else polls every
    --interval seconds. SIGTERM or Ctrl-C stops it after the mails in hand. Mails are read with
    BODY.PEEK (never marked as read). Exit status 2 for a bad setting, a refused login or another
    poller already running on the database; 1 when --once cannot reach the server.
    """
    from pipeline.alerts import AlertSettings
    from pipeline.imap import ImapSettings
    from pipeline.poll import AlertSchedule, PollLocked, PollReport, run
    from pipeline.secrets import install_redaction
    from pipeline.sources import SourceRefused

    settings = _run().settings
    source = ImapSettings.from_settings(settings, **flags)
    alert_settings = AlertSettings.from_settings(settings)
    # --password-file is not a setting: redact what was actually loaded too.
    install_redaction(sorted({*settings.secrets(), source.password, alert_settings.smtp_password or ""} - {""},
                             key=len, reverse=True))
    campaigns = _campaigns(rules)
    # Alerts go out from the loop when SMTP is configured, unless INTAKE_ALERTS=0.
    alerts = AlertSchedule(alert_settings if alert_settings.smtp_host else None)
    report = PollReport()
    _run().done = lambda: f"{report.new} mails stored"
    try:
        run(db_path, source, campaigns, once=once, open_database=_db, alerts=alerts, workers=_workers(None),
            report=report)
    except (SourceRefused, PollLocked) as exc:
        raise ConfigError(str(exc)) from None
    except source.transient_errors as exc:
        click.echo(f"cannot read {source.address}: {exc}", err=True)
        sys.exit(1)
    _run().say(f"{report.fetched} mails fetched: {report.new} new, {report.skipped} already stored"
               + (f", {report.actions} flagged or moved" if report.actions else ""))
    for err in report.errors:
        click.echo(err, err=True)
