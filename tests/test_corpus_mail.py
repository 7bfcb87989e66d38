"""Real-world mail from other projects' test suites (../shared/corpus, read in place, never copied).

Every message must parse without an exception; a few are checked value by value.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from extractors.text import repair
from pipeline.mime import parse_mail
from pipeline.mime_headers import decode_words

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not (CORPUS / "eml").is_dir(), reason=f"corpus not found at {CORPUS}")

EML_FILES = sorted((CORPUS / "eml").glob("*.eml")) + sorted((CORPUS / "vi").glob("*.eml")) if CORPUS.is_dir() else []
OTHER_FILES = sorted(p for p in (CORPUS / "eml").glob("*") if p.suffix != ".eml") if CORPUS.is_dir() else []


def load(name: str):
    return parse_mail((CORPUS / name).read_bytes())


@pytest.mark.parametrize("path", EML_FILES, ids=lambda p: p.name)
def test_every_corpus_mail_parses(path):
    mail = parse_mail(path.read_bytes())
    assert isinstance(mail.body_text, str) and isinstance(mail.subject, str)
    for att in mail.attachments:
        assert att.filename and "/" not in att.filename and "\\" not in att.filename
        assert unicodedata.is_normalized("NFC", att.filename) and len(att.filename) <= 200
        assert att.origin in ("mime", "zip", "tnef", "forwarded", "uuencode")
        assert att.content_type == att.content_type.lower()


@pytest.mark.parametrize("path", OTHER_FILES, ids=lambda p: p.name)
def test_non_mime_files_do_not_raise_either(path):
    # Outlook .msg and TNEF files are not RFC 5322; they must still come back as a ParsedMail.
    parse_mail(path.read_bytes())


def test_raw_8bit_utf8_filename():
    mail = load("eml/mikel_attachment_nonascii_filename.eml")
    assert [a.filename for a in mail.attachments] == ["ciële.txt"]
    assert mail.attachments[0].data.startswith(b"Hi there.")
    assert mail.from_addr == "foo@example.com" and mail.body_text == "This is the first part."


def test_raw_latin1_byte_inside_an_encoded_word_subject():
    # Eudora: "Subject: =?iso-8859-1?Q?Die_Hasen_und_die_Fr\xf6sche?=", the ö written raw.
    mail = load("eml/hunny_legacy_026_uuencode_8bit_name.eml")
    assert mail.subject == "Die Hasen und die Frösche"
    assert [a.filename for a in mail.attachments] == ["HasenundFrösche.txt", "farmerandstork.txt"]
    assert mail.attachments[0].data.startswith(b"Die Hasen und die Fr\xf6sche")  # x-uuencode part


def test_rfc2231_name_with_byte_invalid_in_its_charset():
    # name*=iso-2022-jp'ja'01%20Quien%20Te%20Dij%8aat.%20Pitbull.mp3: 0x8A is not iso-2022-jp.
    mail = load("eml/mikel_attachment_with_encoded_name.eml")
    assert [a.filename for a in mail.attachments] == ["01 Quien Te Dij\ufffdat. Pitbull.mp3"]
    assert mail.attachments[0].content_type == "audio/mpeg"  # octet-stream, refined by extension
    assert [f.kind for f in mail.flags] == ["charset_error"]
    assert mail.from_name == "xxxxxxxxx xxxxxxx" and mail.from_addr == "xxxxxxxxx.xxxxxxx@gmail.com"


def test_rfc2231_filename_beats_rfc2047_name():
    mail = load("eml/mikel_attachment_with_quoted_filename.eml")
    assert [a.filename for a in mail.attachments] == ["Eelanalüüsi päring.jpg"]
    assert mail.attachments[0].content_type == "image/jpeg" and mail.attachments[0].data.startswith(b"\xff\xd8")
    assert mail.subject == "Eelanalüüsi päring"
    assert (mail.from_name, mail.from_addr) == ("Jeffrey Hardy", "jeff@37signals.com")


def test_unquoted_name_with_spaces():
    mail = load("eml/mikel_attachment_with_unquoted_name.eml")
    assert [a.filename for a in mail.attachments] == ["This is a test.txt"]


def test_forwarded_rfc822_with_pdf():
    mail = load("eml/mikel_attachment_message_rfc822.eml")
    assert [(a.filename, a.part, a.origin, a.content_type) for a in mail.attachments] == [
        ("broken.pdf", "2.rfc822.2", "forwarded", "application/pdf")
    ]
    assert mail.attachments[0].data.startswith(b"%PDF-1.4")
    [fwd] = mail.forwarded
    assert fwd.subject == "Another PDF" and (fwd.from_name, fwd.from_addr) == ("Test Tester", "xxxx@xxxx.com")
    assert [(a.filename, a.origin) for a in fwd.attachments] == [("broken.pdf", "mime")]
    assert fwd.attachments[0].data == mail.attachments[0].data


def test_real_vietnamese_windows_1258_mail():
    path = CORPUS / "vi" / "vi_real_email_windows-1258_8bit.eml"
    mail = parse_mail(path.read_bytes())
    assert (mail.from_name, mail.from_addr) == ("Andry", "andry@inbox.ru")
    assert mail.to == ["congdanhqx@gmail.com"] and mail.cc == ["git@vger.kernel.org"]
    assert mail.subject == "Re: Hash for a commit sourcetree beside to a commit hash"
    assert mail.message_id == "563617028.20230203052145@inbox.ru"
    assert mail.in_reply_to == "Y9xq5VAMjzUqTb6X@danh.dev"
    assert mail.references == ["1798489336.20230203042837@inbox.ru", "Y9xq5VAMjzUqTb6X@danh.dev"]
    assert mail.date == datetime(2023, 2, 3, 5, 21, 45, tzinfo=timezone(timedelta(hours=3)))
    assert mail.received_at == datetime(2023, 2, 3, 3, 2, 14, tzinfo=timezone.utc)  # the topmost Received:
    assert mail.auto_reply  # a mailing-list copy: Precedence: bulk and List-ID
    assert mail.body_text.startswith("Hello Đoàn,") and "ĐTCD> On 2023-02-03" in mail.body_text
    assert unicodedata.is_normalized("NFC", mail.body_text) and mail.flags == []
    # The To: display name is an encoded-word in windows-1258 with a combining tone mark (=E2=CC).
    raw_to = next(line for line in path.read_bytes().decode("latin-1").splitlines() if line.startswith("To:"))
    assert repair(decode_words(raw_to)) == "To: Đoàn Trần Công Danh"
