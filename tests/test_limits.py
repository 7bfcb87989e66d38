"""Issue 8: every limit on hostile input is a setting (extractors/limits.py) and a flag when hit."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import zipfile
from email.message import EmailMessage

import pytest
from reportlab.pdfgen import canvas

from extractors import archives, convert
from extractors.docx_reader import read_docx
from extractors.limits import Limits, safe_limits
from extractors.pdf_reader import read_pdf
from extractors.readers import read_document
from pipeline.mime import SLASH, find_attachment, parse_mail
from pipeline.settings import SettingError, load
from tests.test_readers import cfb, docx_bytes


def pdf_pages(n: int) -> bytes:
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer)
    for i in range(n):
        c.drawString(100, 700, f"Trang so {i + 1}")
        c.showPage()
    c.save()
    return buffer.getvalue()


def mail_with(*files: tuple[str, bytes], subject: str = "Báo cáo") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "dangbo@stc.example.vn", "vanphong@example.vn", subject
    msg["Date"] = "Mon, 13 Jun 2022 16:42:00 +0700"
    msg["Message-ID"] = f"<{hashlib.sha1(repr(files).encode()).hexdigest()}@example.vn>"
    msg.set_content("Kính gửi Văn phòng.")
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def kinds(flags) -> list[str]:
    return [f.kind for f in flags]


# ---- settings -----------------------------------------------------------------------------------
def test_defaults_and_environment():
    assert load({}).limits() == Limits() == safe_limits()
    lim = load({"INTAKE_MAX_ATTACHMENT_MB": "2", "INTAKE_MAX_PDF_PAGES": "10",
                "INTAKE_MAX_ARCHIVE_RATIO": "7.5"}).limits()
    assert lim.max_attachment_bytes == 2 * 1024 * 1024 and lim.max_pdf_pages == 10 and lim.max_archive_ratio == 7.5
    for bad in ("0", "-1", "lots", "nan", "2.5"):
        with pytest.raises(SettingError, match="INTAKE_MAX_MIME_PARTS"):
            load({"INTAKE_MAX_MIME_PARTS": bad})


def test_a_bad_limit_stops_the_cli_with_status_2(run_cli, monkeypatch):
    monkeypatch.setenv("INTAKE_MAX_PDF_PAGES", "many")
    result = run_cli("status")
    assert result.exit_code == 2 and "INTAKE_MAX_PDF_PAGES must be a positive whole number" in result.output


def test_converter_timeouts_read_the_same_settings(settings_env):
    settings_env(INTAKE_SOFFICE_TIMEOUT="7")
    settings_env(INTAKE_OCR_TIMEOUT="9")
    assert convert._timeout() == 7.0 and safe_limits().ocr_timeout == 9.0


# ---- attachments, archives ---------------------------------------------------------------------
def test_too_large_attachment_is_kept_raw_but_not_read(run_cli, settings_env, tmp_path):
    settings_env(INTAKE_MAX_ATTACHMENT_MB="0.01")  # 10 KB; a python-docx file is ~36 KB
    big = docx_bytes("Nội dung " * 10)
    doc = read_document(big, "bao-cao.docx")
    assert doc.error and kinds(doc.flags) == ["too_large"] and not doc.blocks
    (tmp_path / "m.eml").write_bytes(mail_with(("bao-cao.docx", big)))
    assert run_cli("ingest", str(tmp_path / "m.eml")).exit_code == 0
    db = sqlite3.connect(tmp_path / "intake.db")
    (message, ident, digest), = db.execute("select message, id, sha256 from attachments").fetchall()
    raw = db.execute("select raw from raw_messages where sha256 = ?", [message]).fetchone()[0]
    assert find_attachment(raw, message, ident, digest).data == big  # kept, inside its mail
    assert [r[0] for r in db.execute("select kind from flags where kind = 'too_large'")] == ["too_large"]


def test_too_large_mail_is_kept_whole_and_opened_once_the_limit_is_raised(run_cli, monkeypatch, settings_env,
                                                                          tmp_path):
    report = docx_bytes("BÁO CÁO", "I. TÌNH HÌNH", "Nội dung " * 10)
    raw = mail_with(("bao-cao.docx", report), subject="Báo cáo sơ kết Nghị quyết 03")
    settings_env(INTAKE_MAX_MAIL_MB="0.01")  # 10 KB; the mail is ~50 KB
    mail = parse_mail(raw)
    assert kinds(mail.flags) == ["too_large"] and "INTAKE_MAX_MAIL_MB (0.01)" in mail.flags[0].detail
    assert (mail.subject, mail.from_addr, mail.attachments) == ("Báo cáo sơ kết Nghị quyết 03",
                                                                "dangbo@stc.example.vn", [])
    (tmp_path / "m.eml").write_bytes(raw)
    assert run_cli("ingest", str(tmp_path / "m.eml")).exit_code == 0
    db = sqlite3.connect(tmp_path / "intake.db")
    assert db.execute("select raw from raw_messages").fetchone()[0] == raw  # nothing lost
    assert db.execute("select count(*) from attachments").fetchone()[0] == 0
    assert "too_large" in [r[0] for r in db.execute("select kind from flags")]
    monkeypatch.delenv("INTAKE_MAX_MAIL_MB")
    assert run_cli("reprocess").exit_code == 0
    assert [r[0] for r in db.execute("select filename from attachments")] == ["bao-cao.docx"]
    assert "too_large" not in [r[0] for r in db.execute("select kind from flags")]


def test_archive_limits_come_from_the_settings(settings_env):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for i in range(5):
            zf.writestr(f"phu-luc-{i}.txt", "x")
    settings_env(INTAKE_MAX_ARCHIVE_ENTRIES="2")
    members, flags = archives.expand(buffer.getvalue(), "ho-so.zip")
    assert len(members) == 2 and kinds(flags) == ["archive_limit"] and "more than 2 members" in flags[0].detail
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bom.txt", b"\0" * (3 * 1024 * 1024))
    settings_env(INTAKE_MAX_ARCHIVE_MB="1")
    assert kinds(archives.expand(bomb.getvalue())[1]) == ["archive_limit"]
    settings_env(INTAKE_MAX_ARCHIVE_MB="100")
    settings_env(INTAKE_MAX_ARCHIVE_RATIO="10")
    assert "compression ratio above 10" in archives.expand(bomb.getvalue())[1][0].detail


# ---- .docx XML ----------------------------------------------------------------------------------
def _replace_part(data: bytes, name: str, content: bytes) -> bytes:
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, content if info.filename == name else src.read(info))
    return out.getvalue()


def test_docx_entities_are_never_expanded():
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY l0 "ha">{laughs}'
           '<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
           '<w:p><w:r><w:t>A &l9; B &ext;</w:t></w:r></w:p></w:body></w:document>').encode()
    doc = read_docx(_replace_part(docx_bytes("x"), "word/document.xml", xml))
    text = " ".join(b.text for b in doc.blocks)
    assert "haha" not in text and "root:" not in text and len(text) < 100


def test_docx_part_size_and_element_count_are_capped(monkeypatch, settings_env):
    data = docx_bytes(*[f"Đoạn {i}" for i in range(200)])
    settings_env(INTAKE_MAX_XML_ELEMENTS="100")
    doc = read_docx(data)
    assert doc.error and kinds(doc.flags) == ["too_large"] and "XML tags" in doc.flags[0].detail
    monkeypatch.delenv("INTAKE_MAX_XML_ELEMENTS")
    settings_env(INTAKE_MAX_XML_MB="0.001")
    doc = read_docx(data)
    assert kinds(doc.flags) == ["too_large"] and "INTAKE_MAX_XML_MB" in doc.flags[0].detail


# ---- PDF ----------------------------------------------------------------------------------------
def test_pdf_page_limit_reads_the_first_pages(settings_env):
    settings_env(INTAKE_MAX_PDF_PAGES="2")
    doc = read_pdf(pdf_pages(5))
    text = " ".join(b.text for b in doc.blocks)
    assert "Trang so 2" in text and "Trang so 3" not in text
    assert kinds(doc.flags) == ["truncated"] and "5 pages" in doc.flags[0].detail and not doc.error


def test_pdf_time_budget_is_checked_between_pages(settings_env):
    settings_env(INTAKE_MAX_SECONDS_PER_FILE="0.000001")
    doc = read_pdf(pdf_pages(5))
    assert " ".join(b.text for b in doc.blocks) == "Trang so 1"  # the first page is always read
    assert kinds(doc.flags) == ["timeout"] and "after 1 of 5 pages" in doc.flags[0].detail


# ---- MIME ---------------------------------------------------------------------------------------
def test_mime_part_count_is_capped(settings_env):
    settings_env(INTAKE_MAX_MIME_PARTS="5")
    mail = parse_mail(mail_with(*[(f"f{i}.txt", b"x") for i in range(20)]))
    assert kinds(mail.flags) == ["mime_limit"] and len(mail.attachments) == 3  # root + body + 3 files = 5 parts


def test_mime_depth_is_capped(settings_env):
    settings_env(INTAKE_MAX_MIME_DEPTH="3")
    raw = b"From: a@b.vn\r\nSubject: s\r\n"
    for i in range(10):
        raw += f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
    raw += b"Content-Type: text/plain\r\n\r\nsau\r\n" + b"".join(f"--b{i}--\r\n".encode() for i in reversed(range(10)))
    mail = parse_mail(raw)
    assert "mime_limit" in kinds(mail.flags) and "INTAKE_MAX_MIME_DEPTH" in str(mail.flags)


# ---- names are never paths ----------------------------------------------------------------------
HOSTILE = ["../../etc/passwd", "/abs/x.docx", "a\x00b.pdf", "y" * 5000 + ".pdf", "C:\\Users\\u\\bc.doc",
           "Báo cáo 12/BC-ĐU.docx"]


def test_attachment_names_are_never_paths(run_cli, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    files = [(name, f"nội dung {i}".encode()) for i, name in enumerate(HOSTILE)]
    (tmp_path / "m.eml").write_bytes(mail_with(*files))
    before = sorted(p for p in tmp_path.rglob("*"))
    assert run_cli("ingest", str(tmp_path / "m.eml")).exit_code == 0
    created = sorted(set(tmp_path.rglob("*")) - set(before))
    assert all(p.name.startswith("intake.db") for p in created), created  # nothing but the database
    db = sqlite3.connect(tmp_path / "intake.db")
    names = [r[0] for r in db.execute("select filename from attachments order by part")]
    assert names[:3] == ["passwd", "x.docx", "ab.pdf"] and names[4:] == ["bc.doc", f"Báo cáo 12{SLASH}BC-ĐU.docx"]
    assert len(names[3]) == 200 and names[3].endswith(".pdf")
    assert not any("/" in n or "\\" in n or "\0" in n for n in names)
    stored = {r[0] for r in db.execute("select sha256 from attachments")}
    assert stored == {hashlib.sha256(data).hexdigest() for _, data in files}


# ---- encrypted files: flagged once, never retried in a loop -------------------------------------
def test_encrypted_attachment_is_flagged_once(run_cli, tmp_path):
    (tmp_path / "m.eml").write_bytes(mail_with(("bao-cao.docx", cfb(["EncryptionInfo", "EncryptedPackage"]))))
    for args in (["ingest", str(tmp_path / "m.eml")], ["ingest", str(tmp_path / "m.eml")], ["reprocess"]):
        assert run_cli(*args).exit_code == 0
        db = sqlite3.connect(tmp_path / "intake.db")
        rows = db.execute("select kind, detail from flags where kind = 'encrypted'").fetchall()
        assert rows == [("encrypted", "password-protected .docx")]
        assert db.execute("select count(*) from attachments").fetchone()[0] == 1  # the file is kept
        db.close()
