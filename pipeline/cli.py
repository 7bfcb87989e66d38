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


@click.group()
@click.version_option(package_name="intake")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr")
def cli(verbose: bool) -> None:
    """intake: reports emailed by units, checked against the campaign and published to Datasette.

    \b
    Typical use:
      intake ingest mail/             # store and read .eml files, Maildir or mbox
      intake status                   # who sent, who is late, what is missing
      intake serve                    # browse everything in Datasette
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@db_option
@rules_option
@json_option
def ingest(sources: tuple[str, ...], db_path: str, rules: str, as_json: bool) -> None:
    """Store and process mail from .eml files, folders of them, Maildir folders or mbox files.

    Every message is kept byte for byte, once; running the command again changes nothing.
    Exit status 1 when some source could not be read (each is named with the reason).
    """
    from pipeline.flow import ingest as run_ingest

    campaigns = _campaigns(rules)
    report = run_ingest(_db(db_path), list(sources), campaigns)
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
    results, failed = [], False
    for name in files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            results.append({"file": name, "kind": "other", "metadata": {}, "sections": [],
                            "missing_sections": [], "error": f"cannot read: {exc.strerror}"})
            failed = True
            continue
        ext = run_extract(data, os.path.basename(name), profile)
        item = {
            "file": name, "kind": ext.kind, "format": ext.format, "metadata": ext.metadata.as_json(),
            "sections": [{"key": s.key, "heading": s.heading, "text": s.text, "confidence": s.confidence}
                         for s in ext.sections],
            "missing_sections": ext.missing_sections,
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
    for item in results:
        if "error" in item:
            click.echo(f"cannot read {item['file']}: {item['error']}", err=True)
    sys.exit(1 if failed else 0)


@cli.command()
@db_option
@rules_option
@campaign_option
@json_option
@click.option("--now", help="Evaluate as of this ISO 8601 moment (default: now)")
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
