"""Serving the database with Datasette, read-only, with the labels of metadata.yml."""

from __future__ import annotations

import sys

from pipeline.settings import metadata_path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run(db_path: str, host: str, port: int) -> None:
    """Run Datasette in the foreground until interrupted."""
    from datasette import cli as datasette_cli

    if host not in LOOPBACK:
        print(f"WARNING: serving on {host}: anyone who can reach this address can read the reports.",
              file=sys.stderr)
    datasette_cli.cli.main(args=["serve", db_path, "--metadata", metadata_path(), "--host", host,
                                 "--port", str(port)], prog_name="intake serve")
