"""`python -m benchmarks [--quick] [--json]`, from a checkout of the repository: speed, scale and
memory beside the libraries underneath. It builds its synthetic inbox with the test fixtures
(tests/fixtures, reportlab) and needs Dovecot for the two IMAP figures (null, with the reason,
without it); the installed `intake` does not ship it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.run import run, table
from pipeline.settings import default_rules


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Measure intake's speed, scale and "
                                     "memory beside the libraries underneath (from a checkout of the repository).")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute (says which in the output)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)  # smaller still, for the tests
    args = parser.parse_args()
    result = run(args.quick, Path(default_rules()) / "nq03-2022.yml", scale=args.scale,
                 progress=lambda step: print(f"measuring {step}...", file=sys.stderr))
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
