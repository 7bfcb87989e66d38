"""Ten years of an office on one machine (issue 19): 300 units, 150 rounds, about 40,000 mails of
today's mix, and what a new mail, a poll, a round's reprocess, a status and the staff pages cost
with all of it stored.

The history is built fast and deterministically from the fixtures: one real mail of each kind
(.docx report with its Quy chế, PDF report, .docx with a PDF Quy chế, a zip of both, a forwarded
report, a scan, a .doc, a reply without files, unrelated mail) is rendered and derived once by the
real pipeline; every mail of the history is then a real mail of its own (built with
tests/fixtures/mail.py, its files made distinct, as every unit's are) whose derived rows are the
template's under new ids. The statuses are computed by the real rules. Size-only figures read this
database; every ingest, poll and reprocess figure is the real thing on top of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import struct
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

from benchmarks import corpus, staff_pages
from benchmarks.measure import ROOT, _best, _pss_kb, process_tree
from rules.campaign import Campaign, load_campaign
from tests.fixtures.mail import VN, build_mail

FULL = (300, 150)  # units, rounds: about 40,000 mails
QUICK = (300, 19)  # about 5,000 mails
SMALL = (12, 4)  # the test suite's check that every figure is reported
BASELINE_MAILS = 1000  # the young database history_cost_ratio compares with
NEW_MAILS = (40, 12)  # real mails ingested per measurement (full and quick; the test suite: 4)
WHOLE_MAILS = (1000, 200)  # mails of the whole reprocess whose speed and memory are measured
OPEN_ROUNDS = 2  # the latest rounds are open; the others are closed, as an office marks them
ROUND_EVERY = timedelta(days=24)  # 15 rounds a year: 150 in ten years
TARGETS = {"history_cost_ratio": (1.2, False), "idle_latency_history_s": (2.0, False),
           "reprocess_campaign_s": (15.0, False), "status_campaign_ms": (20.0, False),
           "db_size_ratio": (1.3, False), "page_p95_ms": (staff_pages.PAGE_TARGET_MS, False),
           "summary_docx_s": (staff_pages.DOCX_TARGET_S, False)}
KEYS = ("history_mails", "history_cost_ratio", "idle_latency_history_s", "reprocess_campaign_s",
        "status_campaign_ms", "db_size_ratio", "history_peak_rss_mb", "page_p95_ms", "summary_docx_s")

# One kind per mail, in turn: 20 in 100 plain .docx report + Quy chế ... as units send them today.
MIX = (("docx+quy_che",) * 34 + ("pdf",) * 25 + ("docx+pdf_quy_che",) * 10 + ("zip",) * 10 + ("forward",) * 6
       + ("note",) * 6 + ("unrelated",) * 5 + ("scan",) * 2 + ("doc",) * 2)


def rounds(base_file: Path, n_units: int, n_rounds: int) -> list[Campaign]:
    """`n_rounds` rounds of the bundled campaign, ROUND_EVERY apart, the latest OPEN_ROUNDS open,
    the last deadline a week before today: every mail of the history has arrived, as in an
    office's database (a mail dated after now is not counted yet: ten years from 2022 on would
    leave most rounds' reports uncounted, and the staff pages' figures measured on that)."""
    made = staff_pages.campaigns(base_file, n_units, n_rounds)
    last = datetime.combine(_today() - timedelta(days=7), made[0].deadline.timetz())
    return [dataclasses.replace(c, closed=n < n_rounds - OPEN_ROUNDS,
                                deadline=last - (n_rounds - 1 - n) * ROUND_EVERY) for n, c in enumerate(made)]


@cache
def _today() -> date:
    """Today, once per run: the databases of one run are built with the same rounds past midnight too."""
    return date.today()


def distinct(data: bytes, tag: str) -> bytes:
    """The same file made different bytes (a zip's comment, or a PDF's or .doc's trailing bytes),
    so that every mail's files are stored as their own, as every unit's real files are."""
    mark = tag.encode()
    if data[:2] == b"PK" and data[-22:-18] == b"PK\x05\x06":  # a zip (.docx) without a comment
        return data[:-2] + struct.pack("<H", len(mark)) + mark
    return data + b"\n%" + mark + b"\n"


@cache
def _scan(specks: str = "") -> bytes:
    """A scanned report; `specks`: its first page made another image by a few dust specks."""
    from tests.fixtures.corpus import _scan as scan_of

    return scan_of(corpus.pdf_report(1), specks)


@cache
def _doc(work: str) -> bytes:
    """A .doc saved by LibreOffice itself from a report (one soffice run, cached)."""
    folder = Path(work) / "doc"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bao-cao.docx").write_bytes(corpus.docx_report(2))
    subprocess.run(["soffice", f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless",
                    "--convert-to", "doc", "--outdir", str(folder), str(folder / "bao-cao.docx")],
                   check=True, capture_output=True, timeout=600)
    return (folder / "bao-cao.doc").read_bytes()


def _files(kind: str, k: int, tag: str, work: Path,
           own_scan: bool = False) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]] | None]:
    """(files, files of a forwarded mail or None) of a mail of `kind`; `own_scan`: a scan whose
    page images are its own (no OCR reading of them is kept), as a new unit's is."""
    from tests.fixtures._docx_util import zip_bytes

    report, quy_che = distinct(corpus.docx_report(k), tag), distinct(corpus.quy_che(k, False), tag)
    if kind == "docx+quy_che":
        return [("Bao cao.docx", report), ("Quy che dan chu.docx", quy_che)], None
    if kind == "pdf":
        return [("Bao cao.pdf", distinct(corpus.pdf_report(k), tag))], None
    if kind == "docx+pdf_quy_che":
        return [("Bao cao.docx", report), ("Quy che dan chu.pdf", distinct(corpus.quy_che(k, True), tag))], None
    if kind == "zip":
        return [("Ho so bao cao.zip", zip_bytes([("Bao cao.docx", report), ("Quy che dan chu.docx", quy_che)]))], None
    if kind == "forward":
        return [], [("Bao cao.docx", report)]
    if kind == "scan":
        return [("Bao cao scan.pdf", distinct(_scan(tag if own_scan else ""), tag))], None
    if kind == "doc":
        return [("Bao cao.doc", distinct(_doc(str(work)), tag))], None
    return [], None  # a note, or unrelated mail


def mail(kind: str, k: int, tag: str, campaign: Campaign, sender: str, received: datetime, work: Path,
         own_scan: bool = False) -> bytes:
    """A real mail of `kind` for `campaign` from `sender`; `tag` makes it (and its files) unique."""
    files, forwarded = _files(kind, k, tag, work, own_scan)
    keyword = campaign.keywords[0]
    subject = {"note": f"Re: Hỏi về báo cáo {keyword}", "unrelated": "Giấy mời họp chi bộ"}.get(
        kind, f"Báo cáo sơ kết {keyword}")
    forward_of = None
    if forwarded is not None:
        forward_of = build_mail(sender="vanthu.cu@dv.example.vn", sender_name="Văn thư cũ", subject=subject,
                                received=received - timedelta(hours=3), attachments=forwarded,
                                message_id=f"fw-{tag}@dv.example.vn")
    subject = ("Fwd: " if forwarded is not None else "") + subject
    return build_mail(sender=sender, sender_name="Văn thư", subject=subject,
                      received=received, attachments=files, forward_of=forward_of, message_id=f"{tag}@bench",
                      body=f"Kính gửi Văn phòng Đảng ủy Khối.\nThư số {tag}.")


def clone_rows(template: dict, raw: bytes, campaign: str | None, unit: str | None, received: datetime,
               sender: str) -> tuple[str, dict]:
    """The template's rows as those of mail `raw` (whose files are the template's made distinct: the
    attachment rows keep the template's sizes and hashes, so a download from this database finds
    no file; none is measured)."""
    mid, rows = staff_pages.clone(template, raw, campaign or "", unit, received, sender)
    if campaign is None:
        rows["message"]["campaign_id"] = None
        for name in ("documents", "sections", "flags"):
            for row in rows[name]:
                row["campaign_id"] = None
    rows["message"].update(subject=template["message"]["subject"], complete=1)
    return mid, rows


@dataclasses.dataclass(frozen=True)
class History:
    path: Path
    rounds: list[Campaign]
    mails: int
    raw_bytes: int


def templates(campaign: Campaign, work: Path) -> dict[str, dict]:
    """The rows of one real mail of each kind of MIX, derived once by the real pipeline, with the
    outputs of LibreOffice and tesseract that ingest keeps."""
    from extractors.config import use_tool_cache
    from pipeline.derive import derive_rows
    from pipeline.tool_outputs import KeptOutputs

    received = datetime(2022, 6, 10, 9, tzinfo=VN)
    out = {}
    for kind in sorted(set(MIX)):
        outputs = KeptOutputs(lambda: None)
        with use_tool_cache(outputs):
            raw = mail(kind, 0, f"template-{kind}", campaign, campaign.units[0].emails[0], received, work)
            out[kind] = derive_rows(f"template-{kind}", raw, [campaign], None)
        out[kind]["tool_outputs"] = outputs.taken()[0]
    return out


def kept_outputs(template: dict, raw: bytes) -> list[dict]:
    """The tool outputs ingest of a clone, mail `raw`, would have kept: LibreOffice's .docx of each
    of its own .doc files (the template's, under the key of those bytes), tesseract's as the
    template's (a clone's scans are the template's page images, only their PDF's trailing bytes
    differ), and the template's page readings under the keys of each of its own PDFs' pages."""
    from extractors.convert import conversion_key, soffice_path
    from extractors.docx_reader import OLE_MAGIC
    from extractors.ocr import page_reading_key
    from pipeline.mime import parse_mail

    kept = template.get("tool_outputs", [])
    out = [row for row in kept if row["tool"] == "tesseract"]
    converted = [row for row in kept if row["tool"] == "soffice"]
    pages = [row for row in kept if row["tool"] == "ocr-page"]  # in the order of the pages read
    binary = soffice_path()
    attachments = parse_mail(raw).attachments if converted or pages else []
    if converted and binary:
        out += [dict(converted[0], key=conversion_key(binary, a.data, "doc")) for a in attachments
                if a.data[:8] == OLE_MAGIC]  # Word 97-2003's container
    digests = [hashlib.sha256(a.data).digest() for a in attachments if pages and a.data[:5] == b"%PDF-"]
    out += [dict(row, key=page_reading_key(digest, index)) for digest in digests for index, row in enumerate(pages)]
    return out


def rules_folder(work: Path) -> Path:
    """Where `build` writes the history's campaign files, for the command line."""
    return work / "history-rules"


def build(path: Path, base_file: Path, n_units: int, n_rounds: int, work: Path, limit: int | None = None,
          derived: dict[str, dict] | None = None) -> History:
    """The history database at `path` (its first `limit` mails only, when given); `derived`: the
    templates() of its first round, when they are already made."""
    from pipeline.flow import refresh_statuses
    from pipeline.schema import insert
    from pipeline.store import open_db, save_campaigns

    # the rounds as the command line loads them from their files (stored the same, so a reprocess
    # finds every campaign unchanged, as an office's would be)
    made = rounds(base_file, n_units, n_rounds)
    folder = corpus.write_rules(base_file, rules_folder(work), made)
    campaigns = [load_campaign(folder / f"{c.id}.yml") for c in made]
    derived = derived or templates(campaigns[0], work)
    db = open_db(str(path))
    save_campaigns(db, campaigns)
    n, raw_bytes = 0, 0
    tables: dict[str, list[dict]] = {}

    def flush() -> None:
        with db.conn:
            for name in ("raw_messages", "messages", "attachments", "documents", "sections", "flags",
                         "tool_outputs"):
                insert(db.conn, name, tables.pop(name, []), ignore=name == "tool_outputs")

    for c, campaign in enumerate(campaigns):
        senders = [(u.id, u.emails[0]) for u in campaign.units if (int(u.id[1:]) + c) % 10]
        for s, (unit, sender) in enumerate(senders):
            times = 2 if (int(unit[1:]) + c) % 20 == 1 else 1  # sent twice: the first is superseded
            for again in range(times):
                if limit is not None and n >= limit:
                    break
                kind = MIX[(n * 7) % len(MIX)]
                late = (s + again) % 9 == 0
                received = campaign.deadline + timedelta(hours=(s % 40) - (-5 if late else 60) + 24 * again)
                tag = f"h{n:06}"
                raw = mail(kind, n % corpus.POOL, tag, campaign, sender, received, work)
                claimed = kind != "unrelated"
                mid, rows = clone_rows(derived[kind], raw, campaign.id if claimed else None,
                                       unit if claimed else None, received, sender)
                tables.setdefault("raw_messages", []).append(
                    {"sha256": mid, "raw": raw, "size": len(raw), "stored_at": received.isoformat()})
                tables.setdefault("messages", []).append(rows["message"])
                for name in ("attachments", "documents", "sections", "flags"):
                    tables.setdefault(name, []).extend(rows[name])
                tables.setdefault("tool_outputs", []).extend(kept_outputs(derived[kind], raw))
                n += 1
                raw_bytes += len(raw)
                if n % 500 == 0:
                    flush()
    flush()
    refresh_statuses(db, campaigns, [c.id for c in campaigns])
    db.execute("analyze")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return History(path, campaigns, n, raw_bytes)


def _new_mails(history: History, count: int, start: int, work: Path) -> Path:
    """`count` new mails of today's mix for the latest round, from units that sent nothing yet, as
    an mbox (each measurement gets mails never stored before)."""
    campaign = history.rounds[-1]
    c = len(history.rounds) - 1
    quiet = [u for u in campaign.units if not (int(u.id[1:]) + c) % 10]
    path = work / f"new-{start}.mbox"
    received = campaign.deadline - timedelta(days=3)
    with path.open("wb") as f:
        for i in range(start, start + count):
            unit = quiet[i % len(quiet)]
            kind = MIX[(i * 7) % len(MIX)]
            raw = mail(kind, i % corpus.POOL, f"new{i:06}", campaign, unit.emails[0], received + timedelta(minutes=i),
                       work, own_scan=True)
            f.write(b"From intake@example.vn Wed Jun  1 07:00:00 2022\n" + raw.replace(b"\r\n", b"\n") + b"\n")
    return path


def cost_ratio(full: History, young: History, count: int, work: Path, rounds_: int = 3) -> dict:
    """Seconds per new mail ingested (1 worker, in process) with the whole history stored and with
    BASELINE_MAILS stored, taking turns; the fastest of `rounds_` rounds of each."""
    from pipeline.flow import ingest
    from pipeline.store import open_db

    per_mail: dict[Path, float] = {}
    for r in range(rounds_):
        for history in (full, young):
            inbox = _new_mails(history, count, 10_000 * (r + 1) + (0 if history is full else 5_000), work)
            db = open_db(str(history.path))
            t = time.perf_counter()
            report = ingest(db, [str(inbox)], history.rounds, workers=1)
            took = (time.perf_counter() - t) / count
            db.close()
            assert report.new == count, report.as_json()
            per_mail[history.path] = min(per_mail.get(history.path, took), took)
    return {"ingest_s_per_mail_history": round(per_mail[full.path], 3),
            "ingest_s_per_mail_young": round(per_mail[young.path], 3),
            "history_cost_ratio": round(per_mail[full.path] / per_mail[young.path], 2)}


def _cli(args: list[str], peak: list[int]) -> float:
    """Seconds of one `intake` command; `peak[0]` raised to its processes' peak memory (kB, PSS)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    while proc.poll() is None:
        peak[0] = max(peak[0], sum(_pss_kb(p) for p in process_tree(proc.pid)))
        time.sleep(0.05)
    took = time.perf_counter() - t
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"intake {' '.join(args)} failed ({proc.returncode}): {err.decode()[-500:]}")
    return took


def figures(quick: bool, base_file: Path, work: Path, small: bool = False) -> dict:
    from benchmarks.imap_bench import history_idle_latency
    from pipeline.flow import statuses
    from pipeline.store import open_reader

    n_units, n_rounds = SMALL if small else QUICK if quick else FULL
    count = 4 if small else NEW_MAILS[quick]
    t = time.perf_counter()
    derived = templates(rounds(base_file, n_units, 1)[0], work)
    full = build(work / "history.db", base_file, n_units, n_rounds, work, derived=derived)
    built = time.perf_counter() - t
    young = build(work / "young.db", base_file, n_units, n_rounds, work,
                  limit=min(BASELINE_MAILS, max(20, full.mails // 5)), derived=derived)
    rules = rules_folder(work)
    db = open_reader(str(full.path))
    text_bytes = db.execute("select coalesce(sum(length(cast(text as blob))), 0) from documents").fetchone()[0]
    db.close()
    size = os.path.getsize(full.path)
    out = {"history_mails": full.mails, "history_rounds": n_rounds, "history_units": n_units,
           "history_build_s": round(built, 1), "history_db_mb": round(size / 2**20, 1),
           "history_raw_mb": round(full.raw_bytes / 2**20, 1), "history_text_mb": round(text_bytes / 2**20, 1),
           "db_size_ratio": round(size / (full.raw_bytes + text_bytes), 2)}
    # The staff pages and `intake status` read the history before anything is added to it.
    out.update(staff_pages.measure(full.path, full.rounds, n_units, 3 if small else staff_pages.ROUNDS))
    page_keys = [k for k in staff_pages.KEYS if k.endswith("_p95_ms")]
    out["page_p95_ms"] = max(out.pop(k) for k in page_keys)
    out["summary_docx_s"] = out.pop("staff_summary_docx_s")
    middle = full.rounds[len(full.rounds) // 2]
    db = open_reader(str(full.path))
    statuses(db, middle, None)
    out["status_campaign_ms"] = round(1000 * _best(lambda: statuses(db, middle, None), 5), 1)
    db.close()
    out.update(cost_ratio(full, young, count, work, 1 if small else 3))
    peak = [0]
    out["reprocess_campaign_s"] = round(_cli(["reprocess", "--db", str(full.path), "--rules", str(rules),
                                              "--campaign", middle.id, "--workers", "2"], peak), 1)
    db = open_reader(str(full.path))
    out["reprocess_campaign_mails"] = db.execute("select count(*) from messages where campaign_id = ?",
                                                 [middle.id]).fetchone()[0]
    db.close()
    whole = build(work / "whole.db", base_file, n_units, n_rounds, work, limit=8 if small else WHOLE_MAILS[quick],
                  derived=derived)
    took = _cli(["reprocess", "--db", str(whole.path), "--rules", str(rules), "--workers", "2"], peak)
    out["reprocess_all_mails"] = whole.mails
    out["reprocess_all_mails_per_s"] = round(whole.mails / took, 1)
    out["history_peak_rss_mb"] = round(peak[0] / 1024, 1)
    out.update(history_idle_latency(full, work))
    return out
