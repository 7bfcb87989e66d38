"""Compile the PDF layout modules with mypyc (extractors/compiled.py says which, and why).

scripts/setup runs it; run it again after editing those modules (until then their sources run,
never a stale build). Exits 1 with the compiler's message when there is no C compiler or no
Python headers: intake then runs the same code as plain Python, only slower.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    os.chdir(ROOT)  # mypyc reads the mypy settings of pyproject.toml and names modules from here
    sys.path.insert(0, str(ROOT))
    from mypyc.build import mypycify
    from setuptools import setup

    logging.getLogger("extractors.compiled").setLevel(logging.ERROR)  # "stale build" is why this runs
    from extractors import compiled

    if compiled.current():
        return 0
    for old in compiled.built():
        old.unlink()
    compiled.MANIFEST.unlink(missing_ok=True)
    digests = {name: compiled.source_digest(name) for name in compiled.MODULES}
    sources = [f"extractors/{name}.py" for name in compiled.MODULES]
    with tempfile.TemporaryDirectory() as work:
        try:
            build = ["--quiet", "build_ext", "--inplace", "--build-temp", f"{work}/temp", "--build-lib", f"{work}/lib"]
            setup(name="intake-layout", py_modules=[], script_args=build,
                  ext_modules=mypycify(sources, group_name=compiled.GROUP, target_dir=f"{work}/c"))
        except (SystemExit, Exception) as exc:  # noqa: BLE001 - a missing compiler ends in SystemExit
            for partial in compiled.built():
                partial.unlink()
            print(f"scripts/compile.py: the PDF layout was not compiled ({exc}); it runs as plain Python",
                  file=sys.stderr)
            return 1
    compiled.MANIFEST.write_text(json.dumps(digests, indent=1) + "\n")
    print(f"compiled {', '.join(sources)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
