"""`intake bench`: every figure of issue 7, as a table or one JSON object.

Sizes: the full run ingests 10,000 mails for peak memory and polls a 10,000-message mailbox;
--quick shrinks both (and the rest) to finish in under a minute and says so. INTAKE_BENCH_SCALE
(a hidden knob for the test suite) shrinks them further.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import measure, staff_pages

# (figure, target, whether higher is better)
TARGETS = {"pdf_vs_pdfium": (3.0, False), "docx_vs_python_docx": (1.5, False), "ingest_scaling": (1.7, True),
           "peak_rss_mb": (300.0, False), "poll_nothing_new_s": (0.2, False), "idle_latency_s": (5.0, False),
           "status_query_ms": (100.0, False), **staff_pages.TARGETS}
KEYS = ("pdf_ms_per_page", "pdf_vs_pdfium", "pdf_vs_pdfplumber", "docx_ms_per_doc", "docx_vs_python_docx",
        "ingest_mails_per_s_1", "ingest_mails_per_s_2", "ingest_scaling", "peak_rss_mb", "poll_nothing_new_s",
        "idle_latency_s", "status_query_ms", *staff_pages.KEYS)


@dataclass(frozen=True)
class Sizes:
    repeat: int
    ingest_mails: int
    rss_mails: int
    imap_messages: int

    @classmethod
    def pick(cls, quick: bool) -> Sizes:
        sizes = cls(3, 30, 100, 1000) if quick else cls(5, 200, 10_000, 10_000)
        scale = float(os.environ.get("INTAKE_BENCH_SCALE", "") or 1)
        if scale < 1:
            sizes = cls(1, max(4, int(sizes.ingest_mails * scale)), max(4, int(sizes.rss_mails * scale)),
                        max(10, int(sizes.imap_messages * scale)))
        return sizes


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": model, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version()}


def run(quick: bool, base_campaign: Path, progress=lambda msg: None) -> dict:
    from benchmarks.imap_bench import imap_figures

    sizes = Sizes.pick(quick)
    result: dict = {"mode": "quick" if quick else "full", "machine": machine(), "sizes": sizes.__dict__}
    if quick:
        result["note"] = (f"--quick: peak memory over {sizes.rss_mails} mails (not 10,000), IMAP poll on a "
                          f"{sizes.imap_messages}-message mailbox (not 10,000), ingest of {sizes.ingest_mails} mails")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as tmp:
        work = Path(tmp)
        steps = [("PDF extraction", lambda: measure.pdf_figures(sizes.repeat)),
                 (".docx extraction", lambda: measure.docx_figures(sizes.repeat)),
                 ("ingest with 1 and 2 workers", lambda: measure.ingest_figures(sizes.ingest_mails, base_campaign, work)),
                 ("intake status", lambda: measure.status_command_figures(work / "ingest-2.db", base_campaign)),
                 ("status SQL", lambda: measure.status_figures(repeat=sizes.repeat)),
                 (f"peak memory over {sizes.rss_mails} mails",
                  lambda: measure.rss_figures(sizes.rss_mails, base_campaign, work)),
                 # repeat 1 is INTAKE_BENCH_SCALE's test-suite size: the smallest staff database then
                 ("staff pages", lambda: staff_pages.figures(quick, base_campaign, work, small=sizes.repeat == 1)),
                 (f"IMAP on a {sizes.imap_messages}-message mailbox",
                  lambda: imap_figures(sizes.imap_messages, base_campaign, work))]
        for label, step in steps:
            progress(label)
            result.update(step())
    result["bench_s"] = round(time.perf_counter() - started, 1)
    return result


def table(result: dict) -> str:
    m = result["machine"]
    lines = [f"intake bench ({result['mode']}) on {m['nproc']} CPUs, {m['cpu']}, {m['ram_gb']} GB RAM, "
             f"Python {m['python']}"]
    if result.get("note"):
        lines.append(result["note"])
    for key in KEYS:
        value = result.get(key)
        target = ""
        if key in TARGETS:
            limit, higher = TARGETS[key]
            ok = value is not None and (value >= limit if higher else value <= limit)
            target = f"target {'>=' if higher else '<='} {limit:g}  " + ("ok" if ok else "MISSED" if value is not None
                                                                      else "not measured")
        shown = "null" if value is None else f"{value:g}"
        lines.append(f"  {key:24} {shown:>10}  {target}")
    extra = {k: v for k, v in result.items() if k not in KEYS and k not in ("mode", "machine", "note", "sizes")}
    lines.append("  also: " + ", ".join(f"{k}={v}" for k, v in extra.items()))
    return "\n".join(lines)
