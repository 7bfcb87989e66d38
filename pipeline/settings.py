"""Defaults for settings that flags and INTAKE_* environment variables override."""

from __future__ import annotations

from pathlib import Path

import rules

DEFAULT_DB = "intake.db"
ROOT = Path(__file__).resolve().parent.parent


def default_rules() -> str:
    """The campaign files shipped with intake (the `rules` package folder)."""
    return str(Path(rules.__file__).parent)


def metadata_path() -> str:
    """metadata.yml at the project root: what staff see in Datasette."""
    return str(ROOT / "metadata.yml")
