"""pipeline.sources: real files, folders, Maildirs and mbox files on disk."""

from __future__ import annotations

import json
import mailbox
import os
import shutil
import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from pipeline.sources import RawMail, SourceError, iter_mail, looks_like_mail

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def eml(subject: str, body: str = "Kính gửi Văn phòng.\n") -> bytes:
    return (
        f"From: Chi bộ <cb@example.vn>\r\nTo: vp@example.vn\r\nSubject: {subject}\r\n"
        f"Date: Sun, 15 Jun 2025 08:00:00 +0700\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


def message(subject: str, body: str) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "cb@example.vn", "vp@example.vn", subject
    m.set_content(body)
    return m


def test_single_eml_file(tmp_path):
    path = tmp_path / "bao-cao.eml"
    raw = eml("Báo cáo") + b"\r\n\xff raw bytes kept \r\n"
    path.write_bytes(raw)
    [item] = list(iter_mail([str(path)]))
    assert item == RawMail(source=f"file:{path}", raw=raw, internaldate=None)


def test_relative_path_gives_absolute_source(tmp_path, monkeypatch):
    (tmp_path / "a.eml").write_bytes(eml("A"))
    monkeypatch.chdir(tmp_path)
    [item] = iter_mail(["a.eml"])
    assert item.source == f"file:{tmp_path / 'a.eml'}"


def test_folder_is_recursive_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "b.eml").write_bytes(eml("B"))
    (tmp_path / "a.eml").write_bytes(eml("A"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_bytes(eml("C"))  # any name: the content decides
    (tmp_path / ".hidden.eml").write_bytes(eml("H"))
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.eml").write_bytes(eml("G"))
    # Beside the mails: files that are not mail. Named like mail -> reported; anything else -> skipped.
    (tmp_path / "scan.png").write_bytes(PNG)
    (tmp_path / "README.md").write_bytes("# Hộp thư mẫu\n".encode())
    (tmp_path / "note.txt").write_bytes("Ghi chú: không phải thư\nmà là một ghi chú.\n".encode())
    (tmp_path / "empty.eml").write_bytes(b"")
    outlook = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100
    (tmp_path / "outlook.msg").write_bytes(outlook)  # a compound file named .msg: kept, the parser flags it
    (tmp_path / "inbox").write_bytes(PNG)  # no extension, as mbox files often are
    items = list(iter_mail([str(tmp_path)]))
    got = [(type(i).__name__, i.source.rsplit("/", 1)[1]) for i in items]
    assert got == [
        ("RawMail", "a.eml"),
        ("RawMail", "b.eml"),
        ("SourceError", "empty.eml"),
        ("SourceError", "inbox"),
        ("RawMail", "outlook.msg"),
        ("RawMail", "c.txt"),
    ]
    assert {i.reason for i in items if isinstance(i, SourceError)} == {"not a mail file"}
    assert [i.raw for i in items if isinstance(i, RawMail)] == [eml("A"), eml("B"), outlook, eml("C")]
    assert list(iter_mail([str(tmp_path)])) == items  # deterministic


def test_png_file_is_a_source_error_not_a_mail(tmp_path):
    path = tmp_path / "scan.eml"
    path.write_bytes(PNG)
    assert list(iter_mail([str(path)])) == [SourceError(f"file:{path}", "not a mail file")]


def test_looks_like_mail():
    assert looks_like_mail(eml("x"))
    assert looks_like_mail(b"Received: from a\r\n\tby b; Sun, 15 Jun 2025 08:00:00 +0700\r\nSubject: x\r\n\r\nbody")
    assert looks_like_mail(b"From: a@b\nSubject: no blank line\nbody line straight after\n")
    assert not looks_like_mail(PNG)
    assert not looks_like_mail(b"%PDF-1.7\n")
    assert not looks_like_mail(b"Note: a text file\n\nhello")  # header-shaped, but no mail header
    assert not looks_like_mail(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # an Outlook .msg


def test_missing_path(tmp_path):
    missing = tmp_path / "nope"
    assert list(iter_mail([str(missing)])) == [SourceError(f"file:{missing}", "path does not exist")]


def test_maildir(tmp_path):
    md = mailbox.Maildir(tmp_path / "Maildir", create=True)
    key_new = md.add(message("Mới", "thư mới"))
    seen = mailbox.MaildirMessage(message("Đã đọc", "thư cũ"))
    seen.set_subdir("cur")
    seen.add_flag("S")
    key_cur = md.add(seen)
    (tmp_path / "Maildir" / "tmp" / "in-progress").write_bytes(eml("tmp"))  # not delivered yet
    (tmp_path / "Maildir" / "cur" / ".hidden").write_bytes(eml("hidden"))
    cur_file = next((tmp_path / "Maildir" / "cur").glob(key_cur + ":2,*"))
    items = list(iter_mail([str(tmp_path / "Maildir")]))
    root = tmp_path / "Maildir"
    assert [i.source for i in items] == sorted([f"maildir:{root}:{key_new}", f"maildir:{root}:{key_cur}"])
    by_key = {i.source.rsplit(":", 1)[1]: i for i in items}
    assert ":2," not in "".join(by_key)
    assert by_key[key_cur].raw == cur_file.read_bytes() and b"Subject:" in by_key[key_cur].raw
    assert by_key[key_cur].internaldate is None and by_key[key_new].internaldate is None  # see RawMail
    assert md.get_bytes(key_new) == by_key[key_new].raw


def test_maildir_inside_a_folder(tmp_path):
    md = mailbox.Maildir(tmp_path / "inbox", create=True)
    key = md.add(message("x", "y"))
    (tmp_path / "a.eml").write_bytes(eml("a"))
    assert [i.source for i in iter_mail([str(tmp_path)])] == [f"file:{tmp_path / 'a.eml'}",
                                                              f"maildir:{tmp_path / 'inbox'}:{key}"]


def test_mbox(tmp_path):
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(path)
    keys = [box.add(message(f"Thư {i}", f"Nội dung {i}\nFrom here on the line starts with From\n\nFrom the start\n"))
            for i in range(3)]
    box.flush()
    items = list(iter_mail([str(path)]))
    assert [i.source for i in items] == [f"mbox:{path}:{n}" for n in range(3)]
    # Exactly the stored bytes: no "From " separator, no trailing separator line, ">From" left as stored.
    assert [i.raw for i in items] == [box.get_bytes(k) for k in keys]
    assert b"\n>From here on" in items[0].raw and not items[0].raw.startswith(b"From ")
    assert all(i.internaldate is None for i in items)
    box.close()


def test_mbox_is_streamed_and_handles_crlf(tmp_path):
    path = tmp_path / "crlf.mbox"
    path.write_bytes(
        b"From a@b Sun Jun 15 08:00:00 2025\r\nSubject: one\r\n\r\nbody 1\r\nFrom inside a paragraph\r\n\r\n"
        b"From c@d Mon Jun 16 09:30:00 2025\r\nSubject: two\r\n\r\nbody 2\r\n"
    )
    stream = iter_mail([str(path)])
    first = next(stream)  # a generator: the first message comes before the file is read to the end
    assert first.raw == b"Subject: one\r\n\r\nbody 1\r\nFrom inside a paragraph\r\n"
    second = next(stream)
    assert second.raw == b"Subject: two\r\n\r\nbody 2\r\n" and second.source.endswith(":1")
    assert list(stream) == []


def test_mbox_empty_message_and_linked_folders(tmp_path):
    path = tmp_path / "box" / "x.mbox"
    path.parent.mkdir()
    path.write_bytes(b"From a Sun Jun 15 08:00:00 2025\n\nFrom b Sun Jun 15 09:00:00 2025\nSubject: b\n\nB\n")
    (tmp_path / "box" / "loop").symlink_to(tmp_path / "box")  # would recurse forever if followed
    items = list(iter_mail([str(tmp_path / "box")]))
    assert items == [
        SourceError(f"mbox:{path}:0", "empty message"),
        RawMail(f"mbox:{path}:1", b"Subject: b\n\nB\n", None),
    ]


def test_eml_with_a_from_line_is_read_as_a_one_message_mbox(tmp_path):
    path = tmp_path / "exported.eml"
    path.write_bytes(b"From cb@example.vn Sun Jun 15 08:00:00 2025\n" + eml("x"))
    [item] = iter_mail([str(path)])
    assert item.source == f"mbox:{path}:0" and item.raw == eml("x")


def test_paths_are_processed_in_the_given_order(tmp_path):
    (tmp_path / "a.eml").write_bytes(eml("a"))
    (tmp_path / "b.eml").write_bytes(eml("b"))
    items = list(iter_mail([str(tmp_path / "b.eml"), str(tmp_path / "missing.eml"), str(tmp_path / "a.eml")]))
    assert [(type(i).__name__, i.source.rsplit("/", 1)[1]) for i in items] == [
        ("RawMail", "b.eml"),
        ("SourceError", "missing.eml"),
        ("RawMail", "a.eml"),
    ]


def _iter_as(uid: int | None, paths: list[str]) -> list[tuple]:
    """iter_mail as another user when we are root (root reads anything): in a forked child that
    drops its privileges and sends the results back through a pipe."""
    if uid is None:
        return [(type(x).__name__, x.source, getattr(x, "reason", None)) for x in iter_mail(paths)]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgid(uid)
            os.setuid(uid)
            result = [(type(x).__name__, x.source, getattr(x, "reason", None)) for x in iter_mail(paths)]
            with os.fdopen(write_end, "wb") as out:
                out.write(json.dumps(result).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return [tuple(x) for x in json.loads(data)]


def test_unreadable_file_and_folder():
    base = Path(tempfile.mkdtemp(prefix="intake-perm-"))  # not under pytest's root-only tmp dir
    try:
        base.chmod(0o755)
        (base / "ok.eml").write_bytes(eml("ok"))
        (base / "ok.eml").chmod(0o644)
        (base / "secret.eml").write_bytes(eml("secret"))
        (base / "secret.eml").chmod(0o000)
        (base / "locked").mkdir()
        (base / "locked" / "x.eml").write_bytes(eml("x"))
        (base / "locked").chmod(0o000)
        uid = 65534 if os.geteuid() == 0 else None
        if uid is None and os.access(base / "secret.eml", os.R_OK):
            pytest.skip("this user can read a file with mode 000")
        got = _iter_as(uid, [str(base)])
        assert got == [
            ("SourceError", f"file:{base / 'locked'}", "permission denied"),
            ("RawMail", f"file:{base / 'ok.eml'}", None),
            ("SourceError", f"file:{base / 'secret.eml'}", "permission denied"),
        ]
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)
