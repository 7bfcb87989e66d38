"""A deterministic synthetic inbox: units of several campaigns sending .docx and text-PDF reports
with their attachments, plus plain mail. Same arguments, same bytes.

Rendering a report (python-docx / reportlab) costs far more than reading it, so a small pool of
documents is rendered once and shared; every mail still differs (sender, subject, Message-ID,
dates), so every mail is stored and derived on its own.
"""

from __future__ import annotations

import dataclasses
import io
import random
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from rules.campaign import Campaign, Unit, load_campaign
from tests.fixtures.documents import Report, quy_che_docx, quy_che_pdf
from tests.fixtures.mail import VN, build_mail

N_CAMPAIGNS = 3
UNITS_PER_CAMPAIGN = 40
_STYLES = ("plain", "numbered", "reworded", "wrapped")


def campaigns(base_file: Path, n_campaigns: int = N_CAMPAIGNS, n_units: int = UNITS_PER_CAMPAIGN) -> list[Campaign]:
    """Copies of the bundled campaign under other ids, keywords and units."""
    base = load_campaign(base_file)
    out = []
    for c in range(n_campaigns):
        units = [Unit(f"c{c}-u{u:03}", f"Đảng ủy Đơn vị {c}-{u:03}", (f"vanthu{u:03}@dv{c}.example.vn",))
                 for u in range(n_units)]
        out.append(dataclasses.replace(base, id=f"bench-{c}", title=f"{base.title} (đợt {c})",
                                       keywords=[f"ĐỢT-{c}-BENCH"], units=units, thread_ids=[]))
    return out


@cache
def report(n: int) -> Report:
    return Report(f"Đảng ủy Đơn vị {n:03}", f"ĐẢNG ỦY ĐƠN VỊ {n:03}", f"{n + 10}-BC/ĐU", (2022, 6, 1 + n % 14),
                  "Nguyễn Văn An", style=_STYLES[n % len(_STYLES)], steering_committee=bool(n % 2))


@cache
def docx_report(n: int) -> bytes:
    return report(n).docx()


@cache
def pdf_report(n: int) -> bytes:
    return report(n).pdf()


@cache
def quy_che(n: int, pdf: bool) -> bytes:
    return quy_che_pdf(f"Đơn vị {n:03}") if pdf else quy_che_docx(f"Đơn vị {n:03}")


POOL = 8  # distinct rendered reports of each format


def write_rules(base_file: Path, folder: Path, campaigns_: list[Campaign] | None = None) -> Path:
    """`campaigns_` (default: campaigns(base_file)) as campaign files the CLI can load, in `folder`."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    for c in campaigns_ if campaigns_ is not None else campaigns(base_file):
        data = yaml.safe_load(base_file.read_text(encoding="utf-8"))
        data.update(id=c.id, title=c.title, keywords=c.keywords, deadline=c.deadline.isoformat(), closed=c.closed,
                    units=[{"id": u.id, "name": u.name, "emails": list(u.emails)} for u in c.units])
        data.pop("thread_ids", None)
        (folder / f"{c.id}.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def mail(i: int, n_campaigns: int = N_CAMPAIGNS, n_units: int = UNITS_PER_CAMPAIGN) -> bytes:
    """Mail number `i`: 40% .docx report + Quy chế, 30% PDF report, 10% .docx report + PDF Quy chế,
    20% plain mail with a note (acknowledgements, questions)."""
    c, u = i % n_campaigns, (i // n_campaigns) % n_units
    kind = i % 10
    received = datetime(2022, 6, 1, 7, 0, tzinfo=VN) + timedelta(minutes=3 * i)
    subject = f"Báo cáo sơ kết ĐỢT-{c}-BENCH - đơn vị {u:03} (lần {i})"
    k = i % POOL
    if kind < 4:
        files = [(f"Bao cao {u:03}.docx", docx_report(k)), (f"Quy che dan chu {u:03}.docx", quy_che(k, False))]
    elif kind < 7:
        files = [(f"Bao cao {u:03}.pdf", pdf_report(k))]
    elif kind == 7:
        files = [(f"Bao cao {u:03}.docx", docx_report(k)), (f"Quy che dan chu {u:03}.pdf", quy_che(k, True))]
    else:
        subject = f"Hỏi về ĐỢT-{c}-BENCH (thư {i})"
        files = [("ghi-chu.txt", f"Ghi chú số {i}.".encode())]
    return build_mail(sender=f"vanthu{u:03}@dv{c}.example.vn", sender_name=f"Văn thư đơn vị {u:03}",
                      subject=subject, received=received, attachments=files,
                      body=f"Kính gửi Văn phòng Đảng ủy Khối.\nĐơn vị {u:03} gửi thư số {i}.")


def mails(n: int, start: int = 0) -> Iterator[bytes]:
    for i in range(start, start + n):
        yield mail(i)


def write_mbox(path: Path, n: int, n_campaigns: int = N_CAMPAIGNS) -> Path:
    """`n` mails in one mbox file, as a mail program appends them (one at a time: never all in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for i in range(n):
            raw = mail(i, n_campaigns)
            f.write(b"From intake@example.vn Wed Jun  1 07:00:00 2022\n" + raw.replace(b"\r\n", b"\n") + b"\n")
    return path


def write_inbox(folder: Path, n: int) -> Path:
    """`n` mails as .eml files in `folder` (written one at a time: never all in memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(mails(n)):
        (folder / f"{i:06}.eml").write_bytes(raw)
    return folder


def big_mail(mb: float) -> bytes:
    """A report mail of about `mb` MB, as units send a big one: its .docx report and a zip of the
    supporting files (a copy of the report and a recording that does not compress), all base64."""
    size = int(mb * 1024 * 1024 * 57 / 78) - 2 * len(docx_report(0))  # base64: 76 characters + CRLF a 57-byte line
    folder = io.BytesIO()
    with zipfile.ZipFile(folder, "w", zipfile.ZIP_STORED) as z:
        z.writestr("Bao cao.docx", docx_report(0))
        z.writestr("Ghi hinh hoi nghi.mp4", random.Random(0).randbytes(max(0, size)))
    return build_mail(sender="vanthu000@dv0.example.vn", sender_name="Văn thư đơn vị 000",
                      subject="Báo cáo sơ kết ĐỢT-0-BENCH - đơn vị 000 (kèm hồ sơ)",
                      received=datetime(2022, 6, 10, 9, 0, tzinfo=VN),
                      attachments=[("Bao cao 000.docx", docx_report(0)), ("Ho so kem theo.zip", folder.getvalue())])
