"""The README's generated parts (the settings table from pipeline/settings.py, `intake --help`)
are what the code says: `python -m cogapp -r README.md` brings them up to date."""

from __future__ import annotations

import re
import subprocess
import sys

from pipeline import settings
from tests.conftest import ROOT


def test_readme_generated_parts_are_current():
    proc = subprocess.run([sys.executable, "-m", "cogapp", "--check", "README.md"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"README.md is stale: run `.venv/bin/python -m cogapp -r README.md`\n{proc.stdout}"


def test_every_setting_is_documented_and_read_through_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for _, spec in settings.declared():
        assert f"| `{spec.var}` |" in readme and spec.help
    reads = re.compile(r"os\.environ\.get\(|os\.environ\[|os\.getenv\(|envvar=")  # passing it on to a child is fine
    for package in ("pipeline", "extractors", "rules", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            if path != ROOT / "pipeline" / "settings.py":
                assert not reads.search(path.read_text(encoding="utf-8")), path
