"""`python -m benchmarks`: every figure of issue 7, as a table or one JSON object (from a checkout:
the synthetic inbox is built with the test fixtures).

Sizes: the full run ingests 10,000 mails for peak memory and polls a 10,000-message mailbox;
--quick shrinks both (and the rest) to finish in under a minute and says so; --scale (a knob for
the test suite) shrinks them further.

Each measurement is a `Step` in STEPS: what it is called while it runs, the figures of the table
it measures and the function measuring them. A new benchmark is one more Step, its function in a
module of its own; its figures then show in the table and the JSON, and a step that does not
return one of them stops the run.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import big_mail, history, measure, staff_pages
from benchmarks.imap_bench import imap_figures
from extractors import compiled

# (figure, target, whether higher is better)
TARGETS = {"pdf_vs_pdfium": (1.5, False), "docx_vs_python_docx": (1.1, False), "ingest_mails_per_s_1": (25.0, True),
           "ingest_scaling": (1.7, True),
           "peak_rss_mb": (300.0, False), "poll_nothing_new_s": (0.2, False), "idle_latency_s": (5.0, False),
           "status_query_ms": (100.0, False), **staff_pages.TARGETS, **big_mail.TARGETS,
           **history.TARGETS}


@dataclass(frozen=True)
class Sizes:
    repeat: int
    ingest_mails: int
    rss_mails: int
    imap_messages: int
    big_mail_mb: float

    @classmethod
    def pick(cls, quick: bool, scale: float = 1.0) -> Sizes:
        sizes = cls(3, 30, 100, 1000, 20) if quick else cls(5, 200, 10_000, 10_000, 60)
        if scale < 1:
            sizes = cls(1, max(4, int(sizes.ingest_mails * scale)), max(4, int(sizes.rss_mails * scale)),
                        max(10, int(sizes.imap_messages * scale)), max(1.0, sizes.big_mail_mb * scale))
        return sizes


@dataclass(frozen=True)
class Bench:
    """What every step is given: the mode, the sizes, a scratch folder, the campaign the corpus is
    built on."""

    quick: bool
    sizes: Sizes
    work: Path
    campaign: Path


@dataclass(frozen=True)
class Step:
    label: str  # shown while it runs
    figures: tuple[str, ...]  # the table's keys it measures (it may return more numbers beside them)
    measure: Callable[[Bench], dict]


STEPS: list[Step] = [
    Step("PDF extraction", ("pdf_ms_per_page", "pdf_vs_pdfium", "pdf_vs_pdfplumber"),
         lambda b: measure.pdf_figures(b.sizes.repeat)),
    Step(".docx extraction", ("docx_ms_per_doc", "docx_vs_python_docx"),
         lambda b: measure.docx_figures(b.sizes.repeat)),
    Step("ingest with 1 and 2 workers", ("ingest_mails_per_s_1", "ingest_mails_per_s_2", "ingest_scaling"),
         lambda b: measure.ingest_figures(b.sizes.ingest_mails, b.campaign, b.work)),
    Step("intake status", (), lambda b: measure.status_command_figures(b.work / "ingest-2.db", b.campaign)),
    Step("status SQL", ("status_query_ms",), lambda b: measure.status_figures(repeat=b.sizes.repeat)),
    Step("peak memory", ("peak_rss_mb",), lambda b: measure.rss_figures(b.sizes.rss_mails, b.campaign, b.work)),
    Step("peak memory over one big mail", big_mail.KEYS,
         lambda b: big_mail.figures(b.sizes.big_mail_mb, b.campaign, b.work)),
    # repeat 1 is --scale's test-suite size: the smallest staff database then
    Step("staff pages", staff_pages.KEYS,
         lambda b: staff_pages.figures(b.quick, b.campaign, b.work, small=b.sizes.repeat == 1)),
    Step("IMAP", ("poll_nothing_new_s", "idle_latency_s"),
         lambda b: imap_figures(b.sizes.imap_messages, b.campaign, b.work)),
    Step("ten years of history", history.KEYS,
         lambda b: history.figures(b.quick, b.campaign, b.work, small=b.sizes.repeat == 1)),
]


def keys(steps: list[Step] | None = None) -> tuple[str, ...]:
    """The figures of the table, in the order of the steps."""
    return tuple(k for step in (STEPS if steps is None else steps) for k in step.figures)


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": model, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "pdf_layout_compiled": compiled.in_use()}


def run(quick: bool, base_campaign: Path, progress: Callable[[str], None] = lambda msg: None,
        scale: float = 1.0, steps: list[Step] | None = None) -> dict:
    sizes = Sizes.pick(quick, scale)
    result: dict = {"mode": "quick" if quick else "full", "machine": machine(), "sizes": sizes.__dict__}
    if quick:
        result["note"] = (f"--quick: peak memory over {sizes.rss_mails} mails (not 10,000) and over a "
                          f"{sizes.big_mail_mb:g} MB mail (not 60), IMAP poll on a {sizes.imap_messages}-message "
                          f"mailbox (not 10,000), ingest of {sizes.ingest_mails} mails")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        bench = Bench(quick, sizes, Path(tmp), base_campaign)
        for step in STEPS if steps is None else steps:
            progress(step.label)
            figures = step.measure(bench)
            missing = set(step.figures) - set(figures)
            if missing:
                raise RuntimeError(f"the {step.label} step did not measure {', '.join(sorted(missing))}")
            result.update(figures)
    result["bench_s"] = round(time.perf_counter() - started, 1)
    return result


def table(result: dict) -> str:
    m = result["machine"]
    lines = [f"python -m benchmarks ({result['mode']}) on {m['nproc']} CPUs, {m['cpu']}, {m['ram_gb']} GB RAM, "
             f"Python {m['python']}, PDF layout {'compiled' if m.get('pdf_layout_compiled') else 'as plain Python'}"]
    if result.get("note"):
        lines.append(result["note"])
    for key in keys():
        value = result.get(key)
        target = ""
        if key in TARGETS:
            limit, higher = TARGETS[key]
            ok = value is not None and (value >= limit if higher else value <= limit)
            target = f"target {'>=' if higher else '<='} {limit:g}  " + ("ok" if ok else "MISSED" if value is not None
                                                                      else "not measured")
        shown = "null" if value is None else f"{value:g}"
        lines.append(f"  {key:24} {shown:>10}  {target}")
    extra = {k: v for k, v in result.items() if k not in keys() and k not in ("mode", "machine", "note", "sizes")}
    lines.append("  also: " + ", ".join(f"{k}={v}" for k, v in extra.items()))
    return "\n".join(lines)
