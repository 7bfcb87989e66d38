"""`python -m benchmarks.instructions [--json]`: the PDF reader against bare pypdfium2 counted in
instructions (valgrind's callgrind), not seconds. Counts are the same on a busy machine as on an
idle one, where the timed `pdf_vs_pdfium` moves by a few hundredths (the median of paired rounds:
1.60-1.68 for the same code, seen here), so they tell what a small change to the reader gains.
Python runs slower per instruction than pdfium, so the timed ratio is somewhat above this one.

Each side runs in a child under valgrind, after a warm-up round, for one round and for three: half
the difference is one round, without imports and set-up."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

from benchmarks.measure import ROOT, benchmark_pdfs, read_with_intake, read_with_pdfium

SIDES = {"intake": read_with_intake, "pdfium": read_with_pdfium}


def per_round(side: str) -> int:
    """Instructions one round of `side` takes over the benchmark's PDFs."""
    child = [sys.executable, "-m", "benchmarks.instructions", "--child", side]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    # once without valgrind first: a source changed since its last import is compiled then, not in
    # one of the two counted runs (seen: 30 M instructions more in the count)
    subprocess.run([*child, "0"], cwd=ROOT, env=env, capture_output=True, check=True)

    def count(rounds: int) -> int:
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *child, str(rounds)],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode or not found:
            raise SystemExit(f"valgrind failed for {side}: {done.stderr[-500:]}")
        return int(found.group(1))

    return (count(3) - count(1)) // 2


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions",
                                     description="The PDF reader against bare pypdfium2, counted in instructions by "
                                     "valgrind (a few minutes).")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "ROUNDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, rounds = args.child
        files = benchmark_pdfs()
        for _ in range(int(rounds) + 1):  # the first is the warm-up
            SIDES[side](files)
        return
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is needed (apt install valgrind)")
    ours, bare = per_round("intake"), per_round("pdfium")
    result = {"pdf_instructions": ours, "pdfium_instructions": bare,
              "pdf_vs_pdfium_instructions": round(ours / bare, 3)}
    lines = (f"{key}: {value:,}" for key, value in result.items())
    print(json.dumps(result, indent=2) if args.json else "\n".join(lines))


if __name__ == "__main__":
    main()
