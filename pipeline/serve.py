"""Serving the database with Datasette and the Vietnamese labels of metadata.yml."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import yaml

from pipeline.settings import metadata_path

LOOPBACK = ("127.0.0.1", "localhost", "::1")
METADATA_DB = "intake"  # the database name metadata.yml is written for


def metadata_for(db_path: str) -> dict:
    """metadata.yml with its database section renamed to the served file's name."""
    with open(metadata_path(), encoding="utf-8") as f:
        metadata = yaml.safe_load(f)
    databases = metadata.get("databases", {})
    name = Path(db_path).stem
    if METADATA_DB in databases and name != METADATA_DB:
        databases[name] = databases.pop(METADATA_DB)
    return metadata


def run(db_path: str, host: str, port: int) -> None:
    """Run Datasette in the foreground until interrupted."""
    from datasette import cli as datasette_cli

    if host not in LOOPBACK:
        print(f"WARNING: serving on {host}: anyone who can reach this address can read the reports.",
              file=sys.stderr)
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as meta:
        json.dump(metadata_for(db_path), meta, ensure_ascii=False)
        meta.flush()
        datasette_cli.cli.main(args=["serve", db_path, "--metadata", meta.name, "--host", host,
                                     "--port", str(port)],
                               prog_name="intake serve")
