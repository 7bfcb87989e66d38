"""Serving the database with Datasette and the Vietnamese labels of metadata.yml.

`datasette_options()` is the one description of how intake runs Datasette (metadata, plugins,
templates, settings, access); `intake serve` and the tests both build their Datasette from it.
"""

from __future__ import annotations

import gc
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlite_utils
import yaml

from pipeline.settings import Settings, load, metadata_path
from rules.campaign import Campaign
from rules.vocabulary import TERMS

LOOPBACK = ("127.0.0.1", "localhost", "::1")
METADATA_DB = "intake"  # the database name metadata.yml is written for
PLUGINS_DIR = Path(__file__).resolve().parent / "datasette_plugins"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
PASSWORD_HASH_ENV = "INTAKE_PASSWORD_HASH"  # made by `datasette hash-password` (datasette-auth-passwords)
# Columns holding codes of rules/vocabulary.py: metadata_for() appends each code with its label to
# the column's description (the column menu shows it), so metadata.yml writes none of them.
VOCABULARY_COLUMNS = {("unit_status", "status"): "status", ("unattributed_submissions", "status"): "status",
                      ("attachments", "origin"): "origin", ("flags", "kind"): "flag", ("alerts", "kind"): "alert",
                      ("alerts", "outcome"): "outcome", ("documents", "signature_state"): "signature",
                      ("signatures", "state"): "signature", ("decisions", "kind"): "decision"}
SETTINGS = {
    "allow_download": False,  # the whole .db holds every raw mail: not a one-click download
    "default_cache_ttl": 0,   # statuses change as mail arrives
    "truncate_cells_html": 0,  # full section text, to copy into a summary
}


def metadata_for(db_path: str) -> dict:
    """metadata.yml with its database section (and chart databases) renamed to the served file's name."""
    with open(metadata_path(), encoding="utf-8") as f:
        metadata = yaml.safe_load(f)
    databases = metadata.get("databases", {})
    name = Path(db_path).stem
    if METADATA_DB in databases and name != METADATA_DB:
        databases[name] = databases.pop(METADATA_DB)
    tables = (databases.get(name) or {}).get("tables") or {}
    for (table, column), kind in VOCABULARY_COLUMNS.items():
        columns = (tables.get(table) or {}).get("columns") or {}
        if column in columns:
            words = ", ".join(f"{code} {label}" for code, label in TERMS[kind].items())
            columns[column] = f"{label_text(columns[column])}: {words}"
    dashboards = (metadata.get("plugins") or {}).get("datasette-dashboards") or {}
    for dashboard in dashboards.values():
        for item in list((dashboard.get("charts") or {}).values()) + list((dashboard.get("filters") or {}).values()):
            if item.get("db") == METADATA_DB:
                item["db"] = name
    return metadata


def label_text(description: str) -> str:
    """A column description's label: the text before the first ":"."""
    return str(description).split(":", 1)[0].strip()


def office_name(settings: Settings) -> str | None:
    """The display name of INTAKE_SMTP_FROM (the office alerts come from), if any."""
    from email.utils import parseaddr

    return parseaddr(settings.smtp_from or "")[0].strip() or None


def datasette_options(db_path: str, host: str = "127.0.0.1", env: Mapping[str, str] | None = None,
                      settings: Settings | None = None, rules: str | None = None) -> dict[str, Any]:
    """Keyword arguments for `datasette.app.Datasette`: what `intake serve` runs, with `settings`
    (what the CLI loaded), else those of the INTAKE_* variables in `env`, else the defaults; staff
    decisions are checked against the campaign files at `rules` (default: the setting).

    With INTAKE_PASSWORD_HASH set, staff log in at /-/login as INTAKE_USERNAME (default "vanphong")
    and anonymous requests are refused everywhere. The hash stays in the environment: metadata
    only refers to it, so /-/metadata never shows it.
    """
    settings = settings or load(env or {})
    metadata = metadata_for(db_path)
    plugins = metadata.setdefault("plugins", {})
    plugins["intake"] = {"exposed_host": None if host in LOOPBACK else host, "office_name": office_name(settings),
                         "rules": rules or settings.rules}
    if settings.password_hash:
        username = settings.username
        plugins["datasette-auth-passwords"] = {
            f"{username}_password_hash": {"$env": PASSWORD_HASH_ENV},
            "actors": {username: {"id": username, "name": "Văn phòng"}},
        }
        plugins["intake"]["login_required"] = True
        metadata["allow"] = {"id": "*"}  # view-instance: any logged-in actor, never anonymous
    return {
        "files": [db_path],
        "metadata": metadata,
        "plugins_dir": str(PLUGINS_DIR),
        "template_dir": str(TEMPLATES_DIR),
        "settings": dict(SETTINGS),
    }


def build_datasette(db_path: str, host: str = "127.0.0.1", env: Mapping[str, str] | None = None,
                    settings: Settings | None = None, rules: str | None = None):
    """A Datasette configured like `intake serve` (call `await ds.invoke_startup()`, or `started`,
    before use)."""
    from datasette.app import Datasette

    return Datasette(**datasette_options(db_path, host, env, settings, rules))


async def started(ds) -> None:
    """Datasette's startup, then what has been made so far (Datasette, Jinja, the libraries: about
    90,000 objects) set aside from the garbage collector: it lives as long as the server, and
    every full collection walked it, 75 ms here, once every few requests of a 300-row page."""
    await ds.invoke_startup()
    gc.collect()
    gc.freeze()


def refresh_if_free(db: sqlite_utils.Database, campaigns: list[Campaign]) -> None:
    """Recompute the cached statuses before serving (of the open campaigns, and of the closed ones
    whose file changed), unless another process is writing: serving never waits for a writer
    (Datasette reads on read-only connections; the next ingest or poll refreshes the statuses,
    and the unit_status view turns pending into missing by itself)."""
    from pipeline.flow import refresh_statuses
    from pipeline.store import is_busy, save_campaigns

    db.execute("PRAGMA busy_timeout=0")
    try:
        changed = save_campaigns(db, campaigns)
        refresh_statuses(db, campaigns, changed | {c.id for c in campaigns if not c.closed})
    except sqlite3.OperationalError as exc:
        if not is_busy(exc):
            raise
        print("note: another process is writing the database: statuses are shown as last computed", file=sys.stderr)
    finally:
        db.close()


def run(db_path: str, host: str, port: int, settings: Settings, rules: str | None = None) -> None:
    """Run Datasette in the foreground until interrupted."""
    import asyncio

    import uvicorn

    if host not in LOOPBACK:
        print(f"WARNING: serving on {host}: anyone who can reach this address can read the reports.",
              file=sys.stderr)
    if not settings.password_hash:
        print(f"note: {PASSWORD_HASH_ENV} is not set, so no login is asked for "
              "(make one with `datasette hash-password`).", file=sys.stderr)
    ds = build_datasette(db_path, host, settings=settings, rules=rules)
    asyncio.run(started(ds))
    print(f"Datasette: http://{host}:{port}/", file=sys.stderr)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
