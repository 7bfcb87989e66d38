"""extractors.archives: zips from mail, including the ones that lie, nest, bomb or use old code pages."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from extractors.archives import expand, is_archive, member_name

DOCX_TYPE_MARKER = b"<?xml version='1.0'?><Types/>"


def make_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip as Python writes it (UTF-8 flag set for non-ASCII names)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def raw_zip(entries: list[tuple[bytes, bytes, dict]]) -> bytes:
    """A zip written byte by byte, to control what zipfile would not write: legacy name bytes
    without the UTF-8 flag, the encryption bit, extra fields and lying sizes."""
    out, central = bytearray(), bytearray()
    for name, data, opts in entries:
        flags = (0x800 if opts.get("utf8_flag") else 0) | (0x1 if opts.get("encrypted") else 0)
        if opts.get("deflate"):
            co = zlib.compressobj(9, zlib.DEFLATED, -15)
            body, method = co.compress(data) + co.flush(), 8
        else:
            body, method = data, 0
        crc, extra = zlib.crc32(data), opts.get("extra", b"")
        size = opts.get("declared_size", len(data))
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 33, crc, len(body), size, len(name),
                           len(extra))
        out += name + extra + body
        central += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, method, 0, 33, crc, len(body), size, len(name), len(extra),
            0, 0, 0, 0, offset
        )
        central += name + extra
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + eocd)


def test_is_archive_by_magic_not_by_name():
    assert is_archive(make_zip({"a.txt": b"x"}))
    assert not is_archive(b"%PDF-1.7\n...")
    assert not is_archive(b"")
    # A .docx is a zip, but a document: not an archive to open.
    assert not is_archive(make_zip({"[Content_Types].xml": DOCX_TYPE_MARKER, "word/document.xml": b"<w/>"}))
    # ODF stores "mimetype" first.
    assert not is_archive(make_zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"}))
    # Starts like a zip but is broken: still an archive, so that expand can report it.
    assert is_archive(b"PK\x03\x04" + b"\x00" * 40)


def test_utf8_flag_vietnamese_names_and_directories_skipped():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Hồ sơ/", b"")  # a directory entry
        zf.writestr("Hồ sơ/Báo cáo sơ kết.docx", b"docx bytes")
        zf.writestr("Quy chế dân chủ.pdf", b"%PDF")
    data = buf.getvalue()
    assert all(i.flag_bits & 0x800 for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    members, flags = expand(data, "hoso.zip")
    assert members == [("Hồ sơ/Báo cáo sơ kết.docx", b"docx bytes"), ("Quy chế dân chủ.pdf", b"%PDF")]
    assert flags == []


def test_utf8_names_without_the_flag_are_redecoded():
    # macOS Archive Utility and Info-ZIP on Linux write UTF-8 names without setting bit 11.
    name = "Báo cáo tháng 6.docx".encode()
    data = raw_zip([(name, b"x", {})])
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    assert not info.flag_bits & 0x800 and info.filename != "Báo cáo tháng 6.docx"  # zipfile read it as cp437
    assert member_name(info) == "Báo cáo tháng 6.docx"
    assert expand(data)[0] == [("Báo cáo tháng 6.docx", b"x")]


def test_cp437_names_stay_cp437():
    # "Übersicht.txt" and "café.txt" written by an old DOS/Windows tool: cp437 bytes, not valid UTF-8.
    names = ["Übersicht.txt".encode("cp437"), "café.txt".encode("cp437")]
    data = raw_zip([(n, b"x", {}) for n in names])
    members, flags = expand(data)
    assert [m for m, _ in members] == ["Übersicht.txt", "café.txt"] and flags == []


def test_info_zip_unicode_path_extra_field():
    # WinRAR/7-Zip: a legacy name plus the real one in extra field 0x7075.
    legacy = b"Bao cao.docx"
    utf8 = "Báo cáo.docx".encode()
    body = b"\x01" + struct.pack("<L", zlib.crc32(legacy)) + utf8
    extra = struct.pack("<HH", 0x7075, len(body)) + body
    members, _ = expand(raw_zip([(legacy, b"x", {"extra": extra})]))
    assert members == [("Báo cáo.docx", b"x")]


def test_nested_zips_are_expanded_with_joined_paths():
    inner = make_zip({"Phụ lục 1.docx": b"p1", "sub/ghi chú.txt": b"n"})
    outer = make_zip({"Báo cáo.pdf": b"%PDF", "phu-luc.zip": inner})
    members, flags = expand(outer, "outer.zip")
    assert [m for m, _ in members] == ["Báo cáo.pdf", "phu-luc.zip", "phu-luc.zip/Phụ lục 1.docx",
                                       "phu-luc.zip/sub/ghi chú.txt"]
    assert dict(members)["phu-luc.zip/Phụ lục 1.docx"] == b"p1"
    assert flags == []


def test_nesting_deeper_than_max_depth_is_flagged_not_opened():
    data = make_zip({"core.txt": b"deep"})
    for level in range(4, 0, -1):
        data = make_zip({f"level{level}.zip": data})
    # max_depth counts the archives opened, the outer one included: outer, level1, level2.
    members, flags = expand(data, max_depth=3)
    paths = [m for m, _ in members]
    # level3 returned, not opened
    assert paths == ["level1.zip", "level1.zip/level2.zip", "level1.zip/level2.zip/level3.zip"]
    assert [f.kind for f in flags] == ["archive_limit"] and "deeper than 3" in flags[0].detail
    members, flags = expand(data, max_depth=5)
    assert members[-1] == ("level1.zip/level2.zip/level3.zip/level4.zip/core.txt", b"deep") and flags == []


def test_member_count_limit_stops():
    data = make_zip({f"f{i:02d}.txt": b"x" for i in range(10)})
    members, flags = expand(data, "many.zip", max_members=3)
    assert len(members) == 3
    assert flags[-1].kind == "archive_limit" and "more than 3 members" in flags[-1].detail


def test_total_bytes_limit_stops():
    data = make_zip({"a.bin": b"a" * 1000, "b.bin": b"b" * 1000, "c.bin": b"c" * 1000}, zipfile.ZIP_STORED)
    members, flags = expand(data, max_total_bytes=2500)
    assert [m for m, _ in members] == ["a.bin", "b.bin"]
    assert [f.kind for f in flags] == ["archive_limit"]


def test_zip_bomb_ratio_limit():
    data = make_zip({"ok.txt": b"fine", "bomb.bin": b"\0" * (20 * 1024 * 1024)})
    assert len(data) < 100_000
    members, flags = expand(data, "bomb.zip")
    assert members == [("ok.txt", b"fine")]
    assert flags[0].kind == "archive_limit" and "ratio" in flags[0].detail and flags[0].detail.startswith("bomb.zip")


def test_lying_declared_size_cannot_blow_up():
    # The directory claims 10 bytes; the deflated stream holds 20 MB of zeros.
    data = raw_zip([(b"liar.bin", b"\0" * (20 * 1024 * 1024), {"deflate": True, "declared_size": 10})])
    members, flags = expand(data)
    assert sum(len(d) for _, d in members) <= 10
    assert flags  # truncated read fails its CRC check: reported, not raised


def test_encrypted_member_is_flagged_and_others_kept():
    data = raw_zip([(b"secret.docx", b"xxxx", {"encrypted": True}), (b"open.txt", b"hello", {})])
    members, flags = expand(data)
    assert members == [("open.txt", b"hello")]
    assert [(f.kind, f.detail) for f in flags] == [("encrypted", "secret.docx")]


def test_corrupt_and_truncated_zips():
    members, flags = expand(b"PK\x03\x04" + b"garbage" * 10, "bad.zip")
    assert members == [] and [f.kind for f in flags] == ["archive_error"]
    good = make_zip({"a.txt": b"a" * 5000})
    members, flags = expand(good[: len(good) // 2])
    assert members == [] and [f.kind for f in flags] == ["archive_error"]
    # A member whose data is damaged (CRC mismatch) is reported; the others survive.
    damaged = bytearray(raw_zip([(b"a.txt", b"hello world", {}), (b"b.txt", b"fine", {})]))
    damaged[30 + len(b"a.txt")] ^= 0xFF
    members, flags = expand(bytes(damaged))
    assert members == [("b.txt", b"fine")] and flags[0].kind == "archive_error" and "a.txt" in flags[0].detail


def test_member_paths_cannot_escape():
    data = raw_zip([(b"../../etc/passwd", b"x", {}), (b"/abs/file.txt", b"y", {}), (b"C:\\win\\x.doc", b"z", {})])
    assert [m for m, _ in expand(data)[0]] == ["etc/passwd", "abs/file.txt", "win/x.doc"]


def test_duplicate_member_names_get_distinct_paths():
    data = raw_zip([(b"a.txt", b"1", {}), (b"a.txt", b"2", {}), (b"./a.txt", b"3", {})])
    assert expand(data)[0] == [("a.txt", b"1"), ("a.txt~2", b"2"), ("a.txt~3", b"3")]


def test_not_a_zip_gives_nothing():
    assert expand(b"%PDF-1.4", "x.pdf") == ([], [])


# ---- 7-Zip and RAR

def _seven_zip(members: dict[str, bytes]) -> bytes:
    import py7zr

    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return buffer.getvalue()


def test_7z_members_are_listed_with_vietnamese_names_and_nested_zips():
    inner = make_zip({"Quy chế dân chủ.docx": b"quy che"})
    data = _seven_zip({"Báo cáo NQ03.docx": b"bao cao", "kem-theo.zip": inner})
    members, flags = expand(data, "ho-so.7z")
    names = [path for path, _ in members]
    assert "Báo cáo NQ03.docx" in names and "kem-theo.zip/Quy chế dân chủ.docx" in names
    assert dict(members)["Báo cáo NQ03.docx"] == b"bao cao"
    assert flags == []


def test_7z_over_the_size_budget_is_flagged_not_expanded():
    data = _seven_zip({"big.txt": b"0" * 3_000_000})
    members, flags = expand(data, "bom.7z", max_total_bytes=1_000_000)
    assert members == []
    assert flags and flags[0].kind == "archive_limit"


def test_corrupt_7z_and_rar_are_flagged():
    members, flags = expand(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40, "hong.7z")
    assert members == [] and flags[0].kind == "archive_error"
    members, flags = expand(b"Rar!\x1a\x07\x01\x00" + b"\x00" * 40, "bao-cao.rar")
    assert members == [] and flags[0].kind == "unsupported_format" and "RAR" in flags[0].detail
