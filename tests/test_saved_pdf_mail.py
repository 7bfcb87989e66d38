"""End to end through mail: a unit's regulation saved as PDF by LibreOffice under a name that holds the
campaign's keyword, sent after its report. Taken for the campaign's report, it would become the current
report (every section missing) and leave the regulation missing."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime

import pytest
import sqlite_utils

from tests.fixtures.corpus import Item
from tests.fixtures.documents import Report, quy_che_docx
from tests.fixtures.mail import build_mail
from tests.fixtures.saved_corpus import libreoffice_pdfs

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) saves the PDF")


def test_regulation_saved_as_pdf_and_named_for_the_campaign(run_cli, tmp_path, saved_corpus_dir):
    report = Report("Đảng ủy Sở Nội vụ", "ĐẢNG ỦY SỞ NỘI VỤ", "60-BC/ĐU", (2022, 6, 9), "Nguyễn Thị Mai",
                    steering_committee=None, letterhead="centred")
    [regulation] = libreoffice_pdfs([Item("quy-che.docx", quy_che_docx("Sở Nội vụ", letterhead="centred"),
                                          "quy_che_dan_chu", None, [], {})], saved_corpus_dir)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    sender = {"sender": "dangbo@snv.example.vn", "sender_name": "Đảng bộ Sở Nội vụ"}
    (inbox / "1.eml").write_bytes(build_mail(
        **sender, subject="Báo cáo sơ kết 01 năm thực hiện Nghị quyết 03-NQ/ĐUK", received=datetime(2022, 6, 10, 9, 0),
        attachments=[("Bao cao so ket NQ03.docx", report.docx())]))
    (inbox / "2.eml").write_bytes(build_mail(
        **sender, subject="Gửi bổ sung hồ sơ NQ 03", received=datetime(2022, 6, 11, 8, 30),
        attachments=[("Bao cao NQ 03 - bo sung.pdf", regulation.data)]))

    assert run_cli("ingest", str(inbox)).exit_code == 0
    rows = json.loads(run_cli("status", "--json", "--now", "2022-06-16T08:00:00+07:00").output)
    noi_vu = next(r for r in rows if r["unit"] == "so-noi-vu")
    assert (noi_vu["status"], noi_vu["missing_attachments"], noi_vu["missing_sections"]) == ("on_time", [], [])

    db = sqlite_utils.Database(os.environ["INTAKE_DB"])
    kinds = {r["filename"]: (r["kind"], r["doc_type"], r["issuer"])
             for r in db.query("select filename, kind, doc_type, issuer from documents")}
    assert kinds == {"Bao cao so ket NQ03.docx": ("report", "BÁO CÁO", "ĐẢNG ỦY SỞ NỘI VỤ"),
                     "Bao cao NQ 03 - bo sung.pdf": ("quy_che_dan_chu", "QUY CHẾ", "SỞ NỘI VỤ")}
