"""MIME as other mail parsers' test suites write it: raw bytes inside encoded-words, boundaries folded
inside their quotes, uuencoded files in plain bodies, blank lines before the headers. Every mail is
written here, the way the clients that produce it do."""

from __future__ import annotations

import binascii
import json
import sqlite3

from pipeline.mime import parse_mail
from pipeline.sources import RawMail, SourceError, iter_mail
from tests.fixtures._docx_util import zip_bytes
from tests.fixtures.documents import report_docx
from tests.test_mime import HEAD, TEXT, file_part, names, part

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --- encoded-words holding raw 8-bit bytes: decoded once, by the word's own charset ---------------------


def test_raw_byte_inside_an_encoded_word_is_decoded_once():
    raw = part(b"From: a@example.vn\nSubject: =?iso-8859-1?Q?Die_Hasen_und_die_Fr\xf6sche?=", "x")
    mail = parse_mail(raw)
    assert mail.subject == "Die Hasen und die Frösche" and mail.flags == []


def test_several_encoded_words_with_raw_bytes():
    # Adjacent words are joined (the space between them is not text), raw bytes in each of them.
    subject = b"=?iso-8859-1?Q?Die_Hasen_und?= =?iso-8859-1?Q?_die_Fr\xf6?=\n =?iso-8859-1?Q?sche_?= (n\xe4chste Woche)"
    mail = parse_mail(part(b"From: a@example.vn\nContent-Type: text/plain; charset=iso-8859-1\nSubject: " + subject,
                           "x"))
    assert mail.subject == "Die Hasen und die Frösche (nächste Woche)"


def test_mixed_charsets_in_one_header():
    # Raw UTF-8 outside the words (RFC 6532), a latin-1 word with a raw byte, a UTF-8 word with raw
    # UTF-8 inside, and a B-encoded windows-1258 word: each decoded by its own charset, once.
    w1258 = binascii.b2a_base64("Tr\u00e2\u0300n".encode("cp1258"), newline=False).decode()  # base + combining tone
    subject = ("Trả lời: ".encode() + b"=?iso-8859-1?Q?Fr\xf6sche?= / =?utf-8?Q?" + "Báo_cáo".encode()
               + b"?= / =?windows-1258?B?" + w1258.encode() + b"?=")
    mail = parse_mail(part(b"From: a@example.vn\nSubject: " + subject, "x"))
    assert mail.subject == "Trả lời: Frösche / Báo cáo / Trần"


def test_raw_bytes_in_encoded_words_of_names_and_file_names():
    raw = part(b'From: =?iso-8859-1?Q?J=FCrgen_M\xfcller?= <jm@example.de>\n'
               b'Content-Type: text/plain; name="=?iso-8859-1?Q?Fr\xf6sche.txt?="\n'
               b"Content-Disposition: attachment", "x")
    mail = parse_mail(raw)
    assert mail.from_name == "Jürgen Müller" and mail.from_addr == "jm@example.de"
    assert names(mail) == ["Frösche.txt"]


def test_raw_byte_in_an_encoded_words_charset_is_no_traceback():
    mail = parse_mail(part(b"From: a@example.vn\nSubject: =?iso\xff?Q?abc?= ok", "x"))
    assert mail.subject.endswith("ok") and {f.kind for f in mail.flags} == {"charset_unknown"}


# --- a boundary folded inside its quotes -------------------------------------------------------------------


def folded(delimiter: bytes, content_type: bytes) -> bytes:
    body = b"".join(b"--" + delimiter + b"\r\n" + p + b"\r\n"
                    for p in (TEXT, file_part('application/pdf; name="bao-cao.pdf"', b"%PDF-1.4 bao cao")))
    return part(HEAD.encode() + b"\nMIME-Version: 1.0\nContent-Type: " + content_type,
                body + b"--" + delimiter + b"--\r\n")


def test_boundary_folded_inside_its_quotes():
    # The folding line break is not part of the boundary: its delimiter lines run on without it.
    mail = parse_mail(folded(b"----=_Part_0_1530362.1655",
                             b'multipart/mixed; boundary="----=_Part_0_\n\t1530362.1655"'))
    assert mail.body_text == "Kính gửi Văn phòng Tỉnh ủy." and names(mail) == ["bao-cao.pdf"]
    assert not [f for f in mail.flags if f.kind == "mime_defect"]


def test_boundary_folded_at_a_space_it_holds_with_parameters_after_it():
    # Unfolding as RFC 5322 does (only the line break goes) when the delimiter lines keep the space.
    mail = parse_mail(folded(b"=_bo undary 42",
                             b'multipart/mixed; boundary="=_bo\n undary 42";\n charset="utf-8"; x-mac=1'))
    assert names(mail) == ["bao-cao.pdf"] and mail.body_text == "Kính gửi Văn phòng Tỉnh ủy."


def test_nested_multipart_with_a_folded_boundary():
    alternative = part(b'Content-Type: multipart/alternative; boundary="alt\n 1"',
                       b"--alt1\r\n" + TEXT
                       + b"\r\n--alt1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--alt1--\r\n")
    outer = (b"--out\r\n" + alternative + b"\r\n--out\r\n" + file_part('application/pdf; name="a.pdf"', b"%PDF")
             + b"\r\n--out--\r\n")
    mail = parse_mail(part(HEAD.encode() + b'\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="out"',
                           outer))
    assert mail.body_text == "Kính gửi Văn phòng Tỉnh ủy." and names(mail) == ["a.pdf"]


# --- uuencoded files in a plain text body ---------------------------------------------------------------


def uuencode(name: str, data: bytes, *, end: bool = True) -> str:
    lines = [binascii.b2a_uu(data[i : i + 45]).decode().rstrip("\n") for i in range(0, len(data), 45)]
    return "\n".join([f"begin 644 {name}", *lines, "`", *(["end"] if end else [])])


def plain(body: str) -> bytes:
    """A mail without MIME, as Eudora and scripts send it: the body is the text, files and all."""
    return part("From: Chi bộ Thôn Đông <cb@example.vn>\nTo: vp@example.vn\nSubject: Báo cáo\n"
                "Date: Mon, 13 Jun 2022 10:00:00 +0700\nMessage-ID: <uu@example.vn>", body.replace("\n", "\r\n"))


REPORT = report_docx("Chi bộ Thôn Đông", issuer="CHI BỘ THÔN ĐÔNG", number="05-BC/CB", date=(2022, 6, 13),
                     signer="Nguyễn Văn An")


def test_uuencoded_files_in_a_plain_body_become_attachments():
    body = ("Kính gửi Văn phòng,\n\n" + uuencode("Bao cao so ket NQ03.docx", REPORT) + "\n\n"
            + uuencode("ho so.zip", zip_bytes({"Quy chế dân chủ.pdf": b"%PDF-1.4 quy che"})) + "\nTrân trọng.\n")
    mail = parse_mail(plain(body))
    assert [(a.filename, a.content_type, a.origin, a.part) for a in mail.attachments] == [
        ("Bao cao so ket NQ03.docx", DOCX, "uuencode", "1/uu1"),
        ("ho so.zip", "application/zip", "uuencode", "1/uu2"),
        ("Quy chế dân chủ.pdf", "application/pdf", "zip", "1/uu2/Quy chế dân chủ.pdf"),
    ]
    assert mail.attachments[0].data == REPORT and mail.attachments[2].data == b"%PDF-1.4 quy che"
    assert mail.body_text == "Kính gửi Văn phòng,\n\n\nTrân trọng." and mail.flags == []


def test_uuencoded_file_with_a_broken_line_or_no_end_is_kept_and_flagged():
    lines = uuencode("bien-ban.pdf", b"%PDF-1.4 " + bytes(range(256)) * 2).split("\n")
    lines[3] = "dòng chữ chen vào giữa"  # a line of text where an encoded line should be
    broken = parse_mail(plain("\n".join(lines)))
    assert names(broken) == ["bien-ban.pdf"] and broken.attachments[0].data.startswith(b"%PDF-1.4")
    assert [(f.kind, f.detail) for f in broken.flags] == [
        ("mime_defect", "1/uu1: uuencoded 'bien-ban.pdf': 1 line(s) that do not decode skipped "
                        "(the first is line 3 after the begin line)")]
    cut = parse_mail(plain(uuencode("bien-ban.pdf", b"%PDF-1.4 cut short", end=False) + "\n\nGửi từ điện thoại"))
    assert cut.attachments[0].data == b"%PDF-1.4 cut short" and cut.body_text == "Gửi từ điện thoại"
    assert [f.detail for f in cut.flags] == ["1/uu1: uuencoded 'bien-ban.pdf': no end line: the file may be cut short"]


def test_a_begin_line_without_encoded_lines_is_text():
    mail = parse_mail(plain("Xin gửi lại:\nbegin 644 bao-cao.docx\n\nend\nTrân trọng."))
    assert mail.attachments == [] and mail.flags == []
    assert mail.body_text == "Xin gửi lại:\nbegin 644 bao-cao.docx\n\nend\nTrân trọng."


def test_uuencoded_files_count_against_the_part_limit(settings_env):
    settings_env(INTAKE_MAX_MIME_PARTS="3")  # the body is one part, so two files fit
    mail = parse_mail(plain("\n".join(uuencode(f"tep-{n}.txt", b"noi dung %d" % n) for n in range(4))))
    assert names(mail) == ["tep-0.txt", "tep-1.txt"]
    assert [f.kind for f in mail.flags] == ["mime_limit"]


def test_uuencoded_report_in_a_plain_body_is_read_as_the_report(run_cli, tmp_path):
    path = tmp_path / "uu.eml"
    path.write_bytes(plain("Kính gửi Văn phòng,\n" + uuencode("Bao cao so ket NQ03.docx", REPORT) + "\n"))
    assert run_cli("ingest", str(path)).exit_code == 0
    with sqlite3.connect(tmp_path / "intake.db") as db:
        rows = db.execute("select a.origin, d.format, d.kind from documents d "
                          "join attachments a on a.id = d.id").fetchall()
    assert rows == [("uuencode", "docx", "report")]


# --- blank lines before the first header ------------------------------------------------------------------


def test_mail_file_whose_first_line_is_only_spaces_is_ingested(tmp_path, run_cli):
    spaces = tmp_path / "spaces.eml"
    spaces.write_bytes(b"   \r\n"
                       + TEXT.replace(b"Content-Type", HEAD.encode().replace(b"\n", b"\r\n") + b"\r\nContent-Type", 1))
    empty_line = tmp_path / "empty-line.eml"
    empty_line.write_bytes(b"\n \t\n" + plain("Kính gửi Văn phòng."))
    [first, second] = list(iter_mail([str(empty_line), str(spaces)]))
    assert isinstance(first, RawMail) and isinstance(second, RawMail)
    assert first.raw.startswith(b"\n \t\n")  # stored as it came
    for item, sender in ((first, "cb@example.vn"), (second, "danguy@example.vn")):
        mail = parse_mail(item.raw)
        assert mail.from_addr == sender and mail.body_text.startswith("Kính gửi Văn phòng") and mail.flags == []
    result = run_cli("ingest", "--json", str(spaces), str(empty_line))
    assert json.loads(result.stdout)["new"] == 2 and json.loads(result.stdout)["errors"] == []


def test_a_text_note_starting_with_blank_lines_is_still_not_a_mail(tmp_path):
    note = tmp_path / "note.eml"
    note.write_bytes("   \n\nGhi chú: không phải thư\nmà là một ghi chú.\n".encode())
    assert list(iter_mail([str(note)])) == [SourceError(f"file:{note}", "not a mail file")]
