"""Digital signatures (issue 17): PDF signatures verified offline with pyHanko, .docx XML signatures read.

The real signed PDFs of the shared corpus, with signers and times read from the files by hand; PDFs
signed here with pyHanko by a throwaway CA (tests/fixtures/signing.py); hostile signatures.
"""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import re
import threading
import zipfile

import pytest

from extractors.certificates import TrustRoots, TrustRootsError
from extractors.signatures import read_signatures
from tests.conftest import shared_path
from tests.fixtures.documents import report_docx, report_pdf
from tests.fixtures.signing import SigningCA, append_text, sign_pdf, signed_docx

UTC = dt.timezone.utc


def _report_pdf(signer: str = "Nguyễn Văn A") -> bytes:
    return report_pdf("Đảng bộ Sở Tài chính", issuer="ĐẢNG BỘ SỞ TÀI CHÍNH", number="12-BC/ĐU", date=(2022, 6, 10),
                      signer=signer)


@pytest.fixture(scope="module")
def ca():
    return SigningCA()


@pytest.fixture(scope="module")
def signer(ca):
    return ca.issue("Nguyễn Văn A", "Sở Tài chính", "Ủy ban nhân dân tỉnh Bình Thuận")


@pytest.fixture(scope="module")
def signed(ca, signer):
    """A report PDF signed once, and the moments around the signing."""
    before = dt.datetime.now(UTC).replace(microsecond=0)
    data = sign_pdf(_report_pdf(), signer, ca)
    return data, before, dt.datetime.now(UTC)


def _read(data: bytes, fmt: str = "pdf", roots=None):
    return read_signatures(data, fmt, roots)


# ---- the shared corpus: what pyHanko reads in real signed PDFs


CORPUS = {
    # Word 2019 PDF signed twice through iTextSharp (Ban Cơ yếu Chính phủ CA, with timestamps)
    "vi_to-trinh-3367-snv-binh-thuan_signed-twice.pdf": [
        ("Signature1", "Đỗ Văn Chung", "SỞ NỘI VỤ, ỦY BAN NHÂN DÂN TỈNH BÌNH THUẬN", "2024-11-29T03:17:47+00:00",
         "CA phục vụ các cơ quan Nhà nước G2", True, "form_filling"),
        ("Signature2", "Đỗ Văn Chung", "SỞ NỘI VỤ, ỦY BAN NHÂN DÂN TỈNH BÌNH THUẬN", "2024-11-29T03:18:05+00:00",
         "CA phục vụ các cơ quan Nhà nước G2", True, "none"),
    ],
    # a person's signature, then the body's three (organization certificate, SHA-1 digests), through iText
    "vi_huong-dan-BTCTU-ha-noi_itext-modified.pdf": [
        ("Signature1", "Triệu Thị Ngọc", "BAN TỔ CHỨC, THÀNH ỦY HÀ NỘI", "2025-08-21T15:02:12+00:00",
         "CA phục vụ các cơ quan Đảng G2", True, "form_filling"),
        ("Signature2", "Ban Tổ chức", "Thành ủy Hà Nội", "2025-08-21T08:53:31+00:00",
         "Co quan chung thuc so Dang Cong san", True, "form_filling"),
        ("Signature3", "Ban Tổ chức", "Thành ủy Hà Nội", "2025-08-21T08:53:30+00:00",
         "Co quan chung thuc so Dang Cong san", True, "form_filling"),
        ("Signature4", "Ban Tổ chức", "Thành ủy Hà Nội", "2025-08-21T08:53:32+00:00",
         "Co quan chung thuc so Dang Cong san", True, "none"),
    ],
    # signed twice through iText 7, then stamped by a tool that rewrote the whole file: both broken
    "vi_cong-van-788-stp_print-to-pdf_signed.pdf": [
        ("Signature1", "Phạm Thị Minh Hiếu", "Sở Tư pháp, Tỉnh Bình Thuận", "2025-05-18T12:38:32+00:00",
         "Co quan chung thuc so Chinh phu", False, "other"),
        ("Signature2", "Phạm Thị Minh Hiếu", "Sở Tư pháp, Tỉnh Bình Thuận", "2025-05-18T13:04:50+00:00",
         "Co quan chung thuc so Chinh phu", False, "other"),
    ],
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_signed_pdfs(name):
    sigs, flags = _read(shared_path("corpus", "vi", name).read_bytes())
    got = [(s.location, s.signer, s.organization, s.signed_at.isoformat(), s.issuer, s.intact, s.modification)
           for s in sigs]
    assert got == CORPUS[name]
    for s in sigs:
        assert s.time_source == "timestamp"  # each carries a TSA token; the signer's clock is the fallback
        assert s.modified_after_signing is (not s.intact)
        assert s.trusted is None and s.revocation == "not_checked" and s.valid_at_signing is True
    if name.startswith("vi_cong-van-788"):
        assert [f.kind for f in flags] == ["signature_malformed"] * 2
        assert "rewritten after signing" in flags[0].detail and "Phạm Thị Minh Hiếu" in flags[0].detail
    else:
        assert flags == []


def test_corpus_unsigned_files_have_no_signatures():
    for name in ("vi_to-trinh-2114-snv_unsigned.pdf", "vi_to-trinh-2114-snv_same-as-pdf.docx"):
        data = shared_path("corpus", "vi", name).read_bytes()
        assert _read(data, "pdf" if name.endswith(".pdf") else "docx") == ([], [])


# ---- PDFs signed here


def test_signed_pdf_is_intact_with_signer_and_time(signed):
    data, before, after = signed
    (sig,), flags = _read(data)
    assert flags == []
    assert (sig.signer, sig.organization, sig.issuer) == (
        "Nguyễn Văn A", "Sở Tài chính, Ủy ban nhân dân tỉnh Bình Thuận", "CA thử nghiệm intake")
    assert before <= sig.signed_at <= after and sig.time_source == "signer"
    assert sig.intact is True and sig.modified_after_signing is False and sig.modification == "none"
    assert sig.trusted is None and sig.valid_at_signing is True and sig.revocation == "not_checked"


def test_text_added_after_signing_is_a_modification(signed):
    (sig,), flags = _read(append_text(signed[0]))
    assert sig.intact is True  # the signed revision itself is untouched
    assert sig.modified_after_signing is True and sig.modification == "other"
    assert flags == []


def test_a_second_signature_leaves_the_first_intact(ca, signed):
    director = ca.issue("Trần Thị B", "Sở Tài chính", "Ủy ban nhân dân tỉnh Bình Thuận")
    token_time = (dt.datetime.now(UTC) - dt.timedelta(days=1)).replace(microsecond=0)  # within the validity
    twice = sign_pdf(signed[0], director, ca, field="Signature2", timestamp_at=token_time)
    first, second = _read(twice)[0]
    assert [first.signer, second.signer] == ["Nguyễn Văn A", "Trần Thị B"]
    assert first.intact and not first.modified_after_signing and first.modification == "form_filling"
    assert second.intact and not second.modified_after_signing and second.modification == "none"
    assert second.time_source == "timestamp" and second.signed_at == token_time


def test_certification_signature_then_an_approval_is_not_an_alteration(ca, signer):
    """A certification (DocMDP "form filling and signing") followed by a second signature in a new
    field: pyHanko's strict reading calls the new field a violation; nothing but a signature was added."""
    certified = sign_pdf(_report_pdf(), signer, ca, certify=True)
    first, second = _read(sign_pdf(certified, ca.issue("Lê Văn C"), ca, field="Signature2"))[0]
    assert first.intact and first.modified_after_signing is False and second.intact


def test_expired_certificate_is_not_valid_at_signing(ca):
    now = dt.datetime.now(UTC)
    expired = ca.issue("Phạm Văn D", not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1))
    (sig,), _ = _read(sign_pdf(_report_pdf(), expired, ca), roots=TrustRoots.load(ca.root.pem))
    assert sig.intact is True and sig.valid_at_signing is False
    assert sig.trusted is True  # the chain still reaches the root: the two facts are kept apart


def test_timestamp_before_the_certificate_is_not_valid_at_signing(ca, signer):
    token_time = dt.datetime(2022, 6, 14, 2, 12, 33, tzinfo=UTC)  # before the certificate was issued
    (sig,), _ = _read(sign_pdf(_report_pdf(), signer, ca, timestamp_at=token_time))
    assert sig.signed_at == token_time and sig.time_source == "timestamp" and sig.valid_at_signing is False


def test_trust_bundle_decides_trusted(ca, signed):
    other = SigningCA("CA khác")
    assert _read(signed[0], roots=TrustRoots.load(ca.root.pem))[0][0].trusted is True
    assert _read(signed[0], roots=TrustRoots.load(other.root.pem))[0][0].trusted is False
    both = other.root.pem + ca.root.pem
    assert _read(signed[0], roots=both)[0][0].trusted is True  # bytes of a bundle work too
    assert _read(signed[0])[0][0].trusted is None


def test_revocation_only_from_data_the_file_carries(ca):
    good_signer, revoked_signer = ca.issue("Võ Văn E"), ca.issue("Đặng Thị F")
    roots = TrustRoots.load(ca.root.pem)
    crl = ca.crl(revoked=[revoked_signer])
    (good,), _ = _read(sign_pdf(_report_pdf(), good_signer, ca, crl=crl), roots=roots)
    (revoked,), _ = _read(sign_pdf(_report_pdf(), revoked_signer, ca, crl=crl), roots=roots)
    (plain,), _ = _read(sign_pdf(_report_pdf(), good_signer, ca), roots=roots)
    assert (good.revocation, revoked.revocation, plain.revocation) == ("good", "revoked", "not_checked")
    assert good.trusted and revoked.trusted  # the chain is one fact, its revocation another


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        self.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_nothing_is_fetched(tmp_path):
    """The certificates name OCSP, CRL and CA-issuer addresses on a local server: reading never calls them,
    while a validation context that may fetch does (so the server would have seen it)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ca = SigningCA(urls=f"http://127.0.0.1:{server.server_address[1]}")
        data = sign_pdf(_report_pdf(), ca.issue("Nguyễn Văn A"), ca)
        for roots in (None, TrustRoots.load(ca.root.pem), TrustRoots.load(SigningCA("CA khác").root.pem)):
            (sig,), _ = _read(data, roots=roots)
            assert sig.intact and sig.revocation == "not_checked"
        assert _Recorder.hits == []

        import asyncio

        from pyhanko_certvalidator import CertificateValidator, ValidationContext
        from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

        leaf = ca.issue("Kiểm tra").asn1  # its CA is in no context: path building would fetch it
        fetching = ValidationContext(trust_roots=[], allow_fetching=True, revocation_mode="hard-fail")
        with pytest.raises((PathBuildingError, PathValidationError)):
            asyncio.run(CertificateValidator(leaf, validation_context=fetching).async_validate_path())
        assert any(hit.endswith("ca.crt") for hit in _Recorder.hits)  # the control: fetching would show
    finally:
        server.shutdown()
        server.server_close()


# ---- .docx XML signatures: read, not verified


def test_docx_xml_signature_from_its_certificate(signer):
    docx = report_docx("Đảng bộ Sở Tài chính", issuer="ĐẢNG BỘ SỞ TÀI CHÍNH", number="12-BC/ĐU", date=(2022, 6, 10),
                       signer="Nguyễn Văn A")
    assert _read(docx, "docx") == ([], [])
    (sig,), flags = _read(signed_docx(docx, signer, signed_at="2026-11-20T02:12:33Z"), "docx")
    assert flags == []
    assert (sig.signer, sig.organization, sig.issuer) == (
        "Nguyễn Văn A", "Sở Tài chính, Ủy ban nhân dân tỉnh Bình Thuận", "CA thử nghiệm intake")
    assert sig.signed_at == dt.datetime(2026, 11, 20, 2, 12, 33, tzinfo=UTC) and sig.time_source == "signer"
    assert (sig.intact, sig.modified_after_signing, sig.trusted) == (None, None, None)  # not verified
    assert sig.location == "_xmlsignatures/sig1.xml"


def test_docx_xml_signature_names_as_written():
    docx = report_docx("Đảng bộ Sở Tài chính", issuer="ĐẢNG BỘ SỞ TÀI CHÍNH", number="12-BC/ĐU", date=(2022, 6, 10),
                       signer="Nguyễn Văn A")
    (sig,), _ = _read(signed_docx(docx, None, signed_at="2022-06-14T09:12:33+07:00"), "docx")
    assert (sig.signer, sig.organization) == ("Nguyễn Văn A", "Sở Tài chính, UBND tỉnh Bình Thuận")
    assert sig.signed_at.isoformat() == "2022-06-14T09:12:33+07:00" and sig.valid_at_signing is None
    source, out = zipfile.ZipFile(io.BytesIO(signed_docx(docx, None))), io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        for info in source.infolist():
            data = source.read(info)
            broken.writestr(info, b"<not a signature" if info.filename == "_xmlsignatures/sig1.xml" else data)
    (sig,), flags = _read(out.getvalue(), "docx")  # the part is there: listed, and flagged
    assert sig.signer is None and [f.kind for f in flags] == ["signature_malformed"]


# ---- hostile signatures: flagged, never a traceback


def _byte_range(data: bytes) -> tuple[re.Match, list[int]]:
    match = re.search(rb"/ByteRange \[([0-9 ]+)\] *", data)
    return match, [int(n) for n in match.group(1).split()]


def _with_byte_range(data: bytes, numbers: list[int] | bytes) -> bytes:
    match, _ = _byte_range(data)
    text = numbers if isinstance(numbers, bytes) else f"/ByteRange [{' '.join(map(str, numbers))}]".encode()
    assert len(text) <= len(match.group(0))
    return data[:match.start()] + text.ljust(len(match.group(0))) + data[match.end():]


def _only_flag(data: bytes) -> tuple:
    (sig,), flags = _read(data)
    assert sig.intact is False and len(flags) == 1
    return sig, flags[0]


def test_byte_range_pointing_outside_the_file(signed):
    data = signed[0]
    _, (start, first, second, length) = _byte_range(data)
    sig, flag = _only_flag(_with_byte_range(data, [start, first, second, length + 10_000_000]))
    assert flag.kind == "signature_malformed" and "points past the end of the file" in flag.detail
    assert sig.signer == "Nguyễn Văn A"  # what the signature says is still shown


def test_contents_far_larger_than_its_byte_range(signed):
    """The byte range leaves out a 16-byte string (the file /ID) while /Contents holds kilobytes: the
    real signature then lies inside what the byte range claims is signed."""
    data = signed[0]
    match, (_, _, second, length) = _byte_range(data)
    ident = re.search(rb"<[0-9a-f]{32}>", data)
    _, flag = _only_flag(_with_byte_range(data, [0, ident.start(), ident.end(), len(data) - ident.end()]))
    assert flag.kind == "signature_malformed" and "more than the 16 the /ByteRange leaves out" in flag.detail


def test_malformed_signature_dictionaries(signed):
    data = signed[0]
    _, (start, first, second, length) = _byte_range(data)
    three = _with_byte_range(data, f"/ByteRange [{start} {first} {second}]".encode())
    assert "not four integers" in _only_flag(three)[1].detail
    backwards = _with_byte_range(data, [start, second, first, length])
    assert "not two ranges in order" in _only_flag(backwards)[1].detail
    gap = slice(first + 1, second - 1)
    garbage = data[:gap.start] + b"ab" * ((second - first - 2) // 2) + data[gap.stop:]
    sig, flag = _only_flag(garbage)  # framed right, but no CMS inside
    assert flag.kind == "signature_malformed" and sig.signer is None


def test_signature_over_another_files_digest(ca, signer, signed):
    """The /Contents of one signed file copied into another signed the same way: a clean CMS, the
    signer's real certificate, a digest of other bytes."""
    data = signed[0]
    other = sign_pdf(_report_pdf(signer="Nguyễn Văn Khác"), signer, ca)
    _, (_, first, second, _) = _byte_range(data)
    _, (_, o_first, o_second, _) = _byte_range(other)
    theirs = other[o_first + 1:o_second - 1]
    room = second - first - 2
    assert len(theirs.rstrip(b"0")) <= room
    forged = data[:first + 1] + theirs.rstrip(b"0").ljust(room, b"0") + data[second - 1:]
    sig, flag = _only_flag(forged)
    assert flag.kind == "signature_broken" and "another file" in flag.detail
    assert sig.signer == "Nguyễn Văn A" and sig.modified_after_signing is True


def _hand_made_pdf(signature_dictionary: bytes) -> bytes:
    """A one-page PDF whose only form field is a signature with this dictionary, xref computed."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [4 0 R] >>",
               b"<< /FT /Sig /T (Signature1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /V 5 0 R >>",
               signature_dictionary]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.mark.parametrize("dictionary, detail", [
    (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange (0 1 2 3) /Contents <00> >>",
     "not four integers"),
    (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 10 20 30] /Contents 42 >>",
     "/Contents is not a string"),
    (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 10 20 30] >>",
     "/Contents is not a string"),
    (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 10 20 30] /Contents <00>"
     b" /Reason " + b"[" * 50_000 + b"]" * 50_000 + b" >>", ""),
])
def test_hand_made_hostile_dictionaries(dictionary, detail):
    """Broken dictionaries, and one nested 50,000 arrays deep (pyHanko's parser recurses)."""
    sigs, flags = _read(_hand_made_pdf(dictionary))
    assert flags and all(f.kind == "signature_malformed" for f in flags)
    assert detail in flags[0].detail
    assert all(s.intact is False for s in sigs)


def test_huge_signature_strings_are_not_handed_to_pyhanko():
    """20 MB of /Contents would keep pyHanko's hex reader busy for minutes: refused from the raw bytes."""
    huge = b"30" + b"ab" * (20 * 1024 * 1024)
    dictionary = (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 10 20 30]"
                  b" /Contents <" + huge + b"> >>")
    sigs, (flag,) = _read(_hand_made_pdf(dictionary))
    assert sigs == [] and flag.kind == "signature_malformed" and "signatures not checked" in flag.detail


def test_limits_bound_the_signature_pass(settings_env, ca, signer, signed):
    """Out of time: the first signature is still read, without the analysis of later changes (which
    pyHanko cannot interrupt), and the rest not at all."""
    twice = sign_pdf(signed[0], signer, ca, field="Signature2")
    settings_env(INTAKE_MAX_SECONDS_PER_FILE="0.000001")
    (first,), flags = _read(twice)
    assert first.intact is True and first.modification is None and first.modified_after_signing is None
    assert [f.kind for f in flags] == ["timeout", "timeout"]
    assert "changes made after it were not analysed" in flags[0].detail
    assert "stopped after 1 of 2" in flags[1].detail and "INTAKE_MAX_SECONDS_PER_FILE" in flags[1].detail
    settings_env(INTAKE_MAX_SECONDS_PER_FILE="120", INTAKE_MAX_ATTACHMENT_MB=str(len(twice) / 2 / 1024 / 1024))
    assert _read(twice) == ([], [])  # not read at all: the reader flags the file too_large


# ---- trust roots and the CLI contract


def test_trust_roots_errors(tmp_path):
    with pytest.raises(TrustRootsError, match="cannot read"):
        TrustRoots.load(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_bytes(b"not a certificate")
    with pytest.raises(TrustRootsError, match="not a PEM file"):
        TrustRoots.load(tmp_path / "junk.pem")
    (tmp_path / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(TrustRootsError, match="no PEM certificate"):
        TrustRoots.load(tmp_path / "key.pem")


def test_extract_json_carries_signatures(run_cli, monkeypatch, tmp_path, ca, signed):
    pdf, plain = tmp_path / "bao-cao-ky-so.pdf", tmp_path / "bao-cao.pdf"
    pdf.write_bytes(signed[0])
    plain.write_bytes(_report_pdf())
    result = run_cli("extract", "--json", str(pdf), str(plain))
    assert result.exit_code == 0
    signed_item, plain_item = json.loads(result.output)
    (sig,) = signed_item["signatures"]
    assert set(sig) >= {"signer", "organization", "signed_at", "issuer", "intact", "modified_after_signing", "trusted"}
    assert (sig["signer"], sig["intact"], sig["modified_after_signing"], sig["trusted"]) == (
        "Nguyễn Văn A", True, False, None)
    assert plain_item["signatures"] == []
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(ca.root.pem)
    monkeypatch.setenv("INTAKE_TRUST_ROOTS", str(bundle))
    assert json.loads(run_cli("extract", "--json", str(pdf)).output)[0]["signatures"][0]["trusted"] is True


@pytest.mark.parametrize("content, message", [(None, "cannot read"), (b"hello", "not a PEM file")])
def test_extract_refuses_a_bad_trust_bundle(run_cli, monkeypatch, tmp_path, content, message):
    bundle = tmp_path / "roots.pem"
    if content is not None:
        bundle.write_bytes(content)
    monkeypatch.setenv("INTAKE_TRUST_ROOTS", str(bundle))
    (tmp_path / "a.pdf").write_bytes(_report_pdf())
    result = run_cli("extract", "--json", str(tmp_path / "a.pdf"))
    assert result.exit_code == 2
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert "INTAKE_TRUST_ROOTS" in line and message in line
