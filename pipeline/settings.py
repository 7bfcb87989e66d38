"""Defaults for settings that flags and INTAKE_* environment variables override."""

from __future__ import annotations

from collections.abc import Mapping
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


def env_number(env: Mapping[str, str], name: str, default, kind: type = int, minimum: float = 0):
    """A number from an environment variable; `default` when it is unset or empty. Raises
    ValueError naming the variable when the value is not a number or is below `minimum`."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, not {value}")
    return value
