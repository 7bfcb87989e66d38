"""Digitally signed reports through the pipeline (issue 17): each file's signatures stored, the signed
PDF and the .docx of one report in one mail counted as one report, the campaign's `signature:
required`, what staff read on their pages, and all of it rebuilt the same by `intake reprocess`.

The PDFs are signed here with pyHanko by a throwaway CA (tests/fixtures/signing.py); the real signed
PDF of the shared corpus and the real PDF with its .docx go through a mail too.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from pipeline.derive import derive_rows
from pipeline.flow import ingest, mail_facts, reprocess, statuses
from pipeline.staff.data import SignatureRow
from pipeline.staff.present import signature_line
from pipeline.store import open_db
from rules.alert_texts import missing_items
from rules.alerts import complete
from rules.campaign import CampaignError, load_campaign, parse_campaign
from rules.same_report import reports_of
from rules.vocabulary import SignatureState, StatusFlag
from tests.conftest import CAMPAIGN_FILE, shared_path
from tests.fixtures.documents import Report, quy_che_docx
from tests.fixtures.mail import VN, build_mail
from tests.fixtures.signing import SigningCA, append_text, sign_pdf, signed_docx
from tests.test_datasette_pages import get, page, start, visible
from tests.test_datasette_staff import served_copy

UTC = timezone.utc
SIGNED_AT = datetime(2022, 6, 9, 2, 12, tzinfo=UTC)  # the time-stamp token's: 09/06/2022 09:12 in Hà Nội
NOW = datetime(2022, 6, 20, tzinfo=VN)
SIGNED_LINE = ("Ký số: Nguyễn Văn A (Sở Tài chính, Ủy ban nhân dân tỉnh Bình Thuận), 09/06/2022 09:12, "
               "còn nguyên vẹn, chưa kiểm tra chuỗi chứng thư")
SENDERS = {"so-noi-vu": "dangbo@snv.example.vn", "so-tai-chinh": "dangbo@stc.example.vn",
           "so-cong-thuong": "chibo@sct.example.vn", "so-xay-dung": "dangbo@sxd.example.vn",
           "hoi-nong-dan": "chibo@hnd.example.vn", "so-giao-duc": "dangbo@sgddt.example.vn"}


def _report(unit: str, issuer: str, number: str) -> Report:
    return Report(unit, issuer, number, (2022, 6, 8), "Nguyễn Văn A", steering_committee=False)


REPORTS = {
    "so-noi-vu": _report("Đảng ủy Sở Nội vụ", "ĐẢNG ỦY SỞ NỘI VỤ", "60-BC/ĐU"),
    "so-tai-chinh": _report("Đảng ủy Sở Tài chính", "ĐẢNG ỦY SỞ TÀI CHÍNH", "45-BC/ĐU"),
    "so-cong-thuong": _report("Chi bộ Sở Công Thương", "CHI BỘ SỞ CÔNG THƯƠNG", "61-BC/CB"),
    "so-xay-dung": _report("Đảng ủy Sở Xây dựng", "ĐẢNG ỦY SỞ XÂY DỰNG", "62-BC/ĐU"),
    "hoi-nong-dan": _report("Chi bộ Hội Nông dân tỉnh", "CHI BỘ HỘI NÔNG DÂN TỈNH", "30-BC/CB"),
    "so-giao-duc": _report("Đảng ủy Sở Giáo dục và Đào tạo", "ĐẢNG ỦY SỞ GIÁO DỤC VÀ ĐÀO TẠO", "70-BC/ĐU"),
}
# A second, different report in hội nông dân's mail: its sub-unit's, from the same template.
OTHER_REPORT = _report("Chi hội Nông dân Văn phòng", "CHI HỘI NÔNG DÂN VĂN PHÒNG", "05-BC/CH")


@pytest.fixture(scope="module")
def ca():
    return SigningCA()


@pytest.fixture(scope="module")
def signer(ca):
    # valid since before the reports were signed, so the time-stamp falls within it
    return ca.issue("Nguyễn Văn A", "Sở Tài chính", "Ủy ban nhân dân tỉnh Bình Thuận",
                    not_before=datetime(2022, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def required():
    return dataclasses.replace(load_campaign(CAMPAIGN_FILE), signature="required")


def _mail(unit: str, files: list[tuple[str, bytes]]) -> bytes:
    return build_mail(sender=SENDERS[unit], sender_name=unit, subject="Báo cáo sơ kết Nghị quyết 03",
                      received=datetime(2022, 6, 10, 9, 15, tzinfo=VN),
                      attachments=[*files, ("Quy chế dân chủ.docx", quy_che_docx(REPORTS[unit].unit_name))])


@pytest.fixture(scope="module")
def mails(ca, signer) -> dict[str, bytes]:
    """One mail per unit, each a case of the issue."""
    def signed(unit: str) -> bytes:
        return sign_pdf(REPORTS[unit].pdf(), signer, ca, timestamp_at=SIGNED_AT)

    r = REPORTS
    return {
        "so-noi-vu": _mail("so-noi-vu", [("Báo cáo 60-BC.pdf", signed("so-noi-vu")),  # signed PDF and its .docx
                                         ("Báo cáo 60-BC.docx", r["so-noi-vu"].docx())]),
        "so-tai-chinh": _mail("so-tai-chinh", [("Báo cáo 45-BC.pdf", r["so-tai-chinh"].pdf()),  # neither signed
                                               ("Báo cáo 45-BC.docx", r["so-tai-chinh"].docx())]),
        "so-cong-thuong": _mail("so-cong-thuong", [("Báo cáo 61-BC.pdf", signed("so-cong-thuong"))]),
        "so-xay-dung": _mail("so-xay-dung", [("Báo cáo 62-BC.pdf", append_text(signed("so-xay-dung")))]),
        "hoi-nong-dan": _mail("hoi-nong-dan", [("Báo cáo 30-BC.docx", r["hoi-nong-dan"].docx()),  # two reports
                                               ("Báo cáo 05-BC.pdf", OTHER_REPORT.pdf())]),
        "so-giao-duc": _mail("so-giao-duc", [("Báo cáo 70-BC.docx", signed_docx(
            r["so-giao-duc"].docx(), signer, signed_at="2022-06-09T02:12:00Z"))]),  # a Word XML signature
    }


@pytest.fixture(scope="module")
def inbox(mails, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("signed-inbox")
    for n, (unit, raw) in enumerate(mails.items()):
        (folder / f"{n:02d}-{unit}.eml").write_bytes(raw)
    return folder


@pytest.fixture(scope="module")
def signed_db(inbox, required, tmp_path_factory):
    """The mails ingested for the campaign with `signature: required` (statuses cached for the pages)."""
    db = open_db(str(tmp_path_factory.mktemp("signed-db") / "intake.db"))
    ingest(db, [str(inbox)], [required], workers=1)
    yield db
    db.close()


def _message(db, unit: str) -> str:
    return db.execute("select id from messages where unit_id = ?", [unit]).fetchone()[0]


def _documents(db, unit: str) -> list[dict]:
    return list(db.query("select id, filename, kind, format, n_signatures, signature_state, same_as from documents "
                         "where message = ? order by id", [_message(db, unit)]))


def _by_unit(result) -> dict:
    return {s.unit: s for s in result}


# ---- derivation: signatures stored, one report in two formats


def test_the_signed_pdf_and_its_docx_are_one_report(signed_db, required):
    pdf, docx, quy_che = _documents(signed_db, "so-noi-vu")
    assert (pdf["kind"], docx["kind"], quy_che["kind"]) == ("report", "report", "quy_che_dan_chu")
    assert pdf["same_as"] == docx["same_as"] == pdf["id"] and quy_che["same_as"] is None  # linked to each other
    assert (pdf["n_signatures"], pdf["signature_state"]) == (1, SignatureState.INTACT)
    assert (docx["n_signatures"], docx["signature_state"]) == (0, None)
    (sig,) = signed_db.query("select * from signatures where message = ?", [_message(signed_db, "so-noi-vu")])
    assert sig["document"] == pdf["id"] and sig["signer"] == "Nguyễn Văn A"
    assert sig["organization"] == "Sở Tài chính, Ủy ban nhân dân tỉnh Bình Thuận"
    assert sig["signed_at"] == SIGNED_AT.isoformat() and sig["time_source"] == "timestamp"
    assert (sig["intact"], sig["modified_after_signing"], sig["trusted"], sig["valid_at_signing"]) == (1, 0, None, 1)
    assert (sig["issuer"], sig["revocation"], sig["state"]) == ("CA thử nghiệm intake", "not_checked", "intact")
    unit = _by_unit(statuses(signed_db, required, NOW))["so-noi-vu"]
    assert unit.report == docx["id"]  # sections from the .docx, the signature from the PDF
    assert (unit.status, unit.missing_attachments, unit.missing_sections, unit.missing_signature) == (
        "on_time", [], [], None)
    assert StatusFlag.RESUBMITTED not in unit.flags and complete(unit)  # one report, complete


def test_two_different_reports_in_one_mail_stay_two(signed_db, required):
    first, second, _ = _documents(signed_db, "hoi-nong-dan")
    assert (first["kind"], second["kind"]) == ("report", "report")
    assert first["same_as"] is None and second["same_as"] is None
    facts = next(m for m in mail_facts(signed_db, required) if m.unit == "hoi-nong-dan")
    assert [d.id for d in reports_of(facts.documents)] == [first["id"], second["id"]]
    assert StatusFlag.RESUBMITTED in _by_unit(statuses(signed_db, required, NOW))["hoi-nong-dan"].flags


def test_real_pdf_and_its_docx_linked_and_real_signatures_stored(tmp_path):
    """The shared corpus: a tờ trình as PDF and as the .docx it was made from, and another signed twice."""
    corpus = ("corpus", "vi")
    files = [(name, shared_path(*corpus, name).read_bytes()) for name in (
        "vi_to-trinh-2114-snv_unsigned.pdf", "vi_to-trinh-2114-snv_same-as-pdf.docx",
        "vi_to-trinh-3367-snv-binh-thuan_signed-twice.pdf")]
    raw = build_mail(sender="vanthu@snv.example.vn", sender_name="Văn thư", subject="Tờ trình",
                     received=datetime(2022, 6, 10, 9, 15, tzinfo=VN), attachments=files)
    rows = derive_rows("m" * 64, raw, [load_campaign(CAMPAIGN_FILE)], None)
    pdf, docx, twice = rows["documents"]
    assert pdf["same_as"] == docx["same_as"] == pdf["id"] and twice["same_as"] is None
    assert [(s["document"], s["signer"], s["signed_at"], s["state"]) for s in rows["signatures"]] == [
        (twice["id"], "Đỗ Văn Chung", "2024-11-29T03:17:47+00:00", "intact"),
        (twice["id"], "Đỗ Văn Chung", "2024-11-29T03:18:05+00:00", "intact")]
    assert twice["n_signatures"] == 2 and twice["signature_state"] == SignatureState.INTACT


def test_signature_flags_belong_to_their_file(tmp_path):
    """The real PDF a stamping tool rewrote after it was signed: both signatures altered, flagged on the file."""
    data = shared_path("corpus", "vi", "vi_cong-van-788-stp_print-to-pdf_signed.pdf").read_bytes()
    raw = build_mail(sender="vanthu@stp.example.vn", sender_name="Văn thư", subject="Công văn",
                     received=datetime(2022, 6, 10, 9, 15, tzinfo=VN), attachments=[("Công văn 788.pdf", data)])
    rows = derive_rows("m" * 64, raw, [load_campaign(CAMPAIGN_FILE)], None)
    (document,) = rows["documents"]
    assert (document["n_signatures"], document["signature_state"]) == (2, SignatureState.ALTERED)
    assert [f["kind"] for f in rows["flags"] if f["attachment"] == document["id"]].count("signature_malformed") == 2


# ---- the campaign's `signature: required`


def test_signature_required(signed_db, required):
    result = _by_unit(statuses(signed_db, required, NOW))
    missing = {unit: result[unit].missing_signature for unit in REPORTS}
    assert missing == {
        "so-noi-vu": None,  # the signed PDF and its .docx: complete
        "so-tai-chinh": StatusFlag.UNSIGNED,  # neither file signed
        "so-cong-thuong": None,  # the signed PDF alone, intact
        "so-xay-dung": StatusFlag.SIGNATURE_INVALID,  # text added after signing
        "hoi-nong-dan": StatusFlag.UNSIGNED,
        "so-giao-duc": StatusFlag.UNSIGNED,  # a .docx XML signature is read, not verified: no intact signature
    }
    for unit, flag in missing.items():
        assert (flag in result[unit].flags) if flag else not {StatusFlag.UNSIGNED, StatusFlag.SIGNATURE_INVALID} & set(
            result[unit].flags)
        assert complete(result[unit]) is (flag is None)  # what is missing: reminders and digests say it too
    assert missing_items(required, result["so-xay-dung"]) == ["Bản báo cáo có ký số (bản ký số đã bị sửa)"]
    assert missing_items(required, result["so-tai-chinh"]) == ["Bản báo cáo có ký số (chưa ký số)"]
    optional = _by_unit(statuses(signed_db, load_campaign(CAMPAIGN_FILE), NOW))  # the default: optional
    assert all(optional[unit].missing_signature is None and complete(optional[unit]) for unit in REPORTS
               if unit != "hoi-nong-dan")


def test_campaign_key_is_checked(tmp_path, run_cli):
    data = yaml.safe_load(CAMPAIGN_FILE.read_text(encoding="utf-8"))
    assert load_campaign(CAMPAIGN_FILE).signature == "optional"
    with pytest.raises(CampaignError, match=r"field 'signature' must be required .* or optional, not 'yes'"):
        parse_campaign({**data, "signature": "yes"}, "dot.yml")
    with pytest.raises(CampaignError, match="not True"):
        parse_campaign({**data, "signature": True}, "dot.yml")
    path = tmp_path / "dot.yml"
    path.write_text(yaml.safe_dump({**data, "signature": "required"}, allow_unicode=True), encoding="utf-8")
    shown = run_cli("campaign", "check", str(path)).output
    assert "signature: required (the report must carry an intact digital signature" in shown
    assert "signature: optional\n" in run_cli("campaign", "check", str(CAMPAIGN_FILE)).output


def test_status_json_shows_the_flags(signed_db, tmp_path, run_cli):
    data = yaml.safe_load(CAMPAIGN_FILE.read_text(encoding="utf-8"))
    rules = tmp_path / "dot.yml"
    rules.write_text(yaml.safe_dump({**data, "signature": "required"}, allow_unicode=True), encoding="utf-8")
    path = served_copy(signed_db, tmp_path / "copy.db")
    args = ["--db", path, "--rules", str(rules), "--now", NOW.isoformat()]
    result = run_cli("status", "--json", *args)
    assert result.exit_code == 0
    entries = {e["unit"]: e for e in json.loads(result.output)}
    assert entries["so-tai-chinh"]["missing_signature"] == "unsigned" and "unsigned" in entries["so-tai-chinh"]["flags"]
    assert entries["so-xay-dung"]["missing_signature"] == "signature_invalid"
    assert "signature_invalid" in entries["so-xay-dung"]["flags"]
    assert entries["so-noi-vu"]["missing_signature"] is None and entries["so-noi-vu"]["flags"] == []
    lines = {line.split()[0]: line for line in run_cli("status", *args).output.splitlines()}
    assert lines["so-xay-dung"].endswith("missing: signature_invalid")


# ---- reprocess, and trust roots in the worker pool


def _derived(db) -> dict:
    return {"signatures": db.execute("select * from signatures order by id").fetchall(),
            "documents": db.execute("select id, kind, n_signatures, signature_state, same_as from documents "
                                    "order by id").fetchall(),
            "submissions": db.execute("select unit_id, status, missing_attachments, missing_sections, flags, report, "
                                      "missing_signature from submissions order by row").fetchall()}


def test_reprocess_keeps_it_all(signed_db, required, tmp_path):
    db = open_db(served_copy(signed_db, tmp_path / "copy.db"))
    before = _derived(db)
    assert before["signatures"] and any(row[-1] for row in before["documents"])
    assert reprocess(db, [required], workers=2) == len(SENDERS)
    assert _derived(db) == before


def test_trust_roots_reach_every_worker(mails, ca, settings_env, tmp_path):
    """INTAKE_TRUST_ROOTS is read with the settings and handed to the worker processes."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.eml").write_bytes(mails["so-noi-vu"])
    (tmp_path / "in" / "b.eml").write_bytes(mails["so-cong-thuong"])
    campaigns = [load_campaign(CAMPAIGN_FILE)]
    for roots, trusted in ((ca.root.pem, 1), (SigningCA("CA khác").root.pem, 0)):
        (tmp_path / "roots.pem").write_bytes(roots)
        settings_env(INTAKE_TRUST_ROOTS=str(tmp_path / "roots.pem"))
        db = open_db(str(tmp_path / f"trusted-{trusted}.db"))
        ingest(db, [str(tmp_path / "in")], campaigns, workers=2)
        assert [r[0] for r in db.execute("select trusted from signatures")] == [trusted, trusted]
        db.close()


def test_a_bad_trust_bundle_stops_every_command(run_cli, monkeypatch, tmp_path):
    (tmp_path / "roots.pem").write_bytes(b"not a bundle")
    monkeypatch.setenv("INTAKE_TRUST_ROOTS", str(tmp_path / "roots.pem"))
    for command in (["ingest", str(tmp_path)], ["reprocess"], ["status"]):
        result = run_cli(*command)
        assert result.exit_code == 2 and "INTAKE_TRUST_ROOTS" in result.output and "not a PEM file" in result.output


# ---- what staff read


def test_signature_lines_in_words():
    tz = VN
    line = SignatureRow("Trần Thị B", "Sở Tài chính", "2022-06-14T02:12:00+00:00", "intact", True, True, "good")
    assert signature_line(line, tz).text == "Ký số: Trần Thị B (Sở Tài chính), 14/06/2022 09:12, còn nguyên vẹn, " \
                                            "chứng thư được tin cậy"
    untrusted = dataclasses.replace(line, state="altered", trusted=False, valid_at_signing=False, revocation="revoked")
    assert signature_line(untrusted, tz).text == (
        "Ký số: Trần Thị B (Sở Tài chính), 14/06/2022 09:12, đã bị sửa sau khi ký, chứng thư không được tin cậy, "
        "chứng thư hết hiệu lực lúc ký, chứng thư đã bị thu hồi")
    word = SignatureRow(None, None, None, "unverified", None, None, "not_checked")
    assert signature_line(word, tz).text == "Ký số: không rõ người ký, chưa kiểm tra được"
    assert signature_line(line, tz).state == "intact"
    assert signature_line(line, tz).short == "Ký số: Trần Thị B, 14/06/2022 09:12, còn nguyên vẹn"
    assert signature_line(untrusted, tz).short == ("Ký số: Trần Thị B, 14/06/2022 09:12, đã bị sửa sau khi ký, "
                                                   "chứng thư không được tin cậy, chứng thư hết hiệu lực lúc ký, "
                                                   "chứng thư đã bị thu hồi")


@pytest.fixture(scope="module")
def ds(signed_db, tmp_path_factory):
    return start(served_copy(signed_db, tmp_path_factory.mktemp("signed-pages") / "demo.db"))


def test_mail_and_unit_pages_show_the_signature(ds, signed_db):
    text = page(ds, f"/-/mail/{_message(signed_db, 'so-noi-vu')}")
    assert SIGNED_LINE in text
    assert "Báo cáo 60-BC.docx cùng nội dung với Báo cáo 60-BC.pdf" in text
    assert SIGNED_LINE in page(ds, "/-/unit/so-noi-vu")
    altered = page(ds, f"/-/mail/{_message(signed_db, 'so-xay-dung')}")
    assert "09/06/2022 09:12, đã bị sửa sau khi ký, chưa kiểm tra chuỗi chứng thư" in altered
    word = page(ds, f"/-/mail/{_message(signed_db, 'so-giao-duc')}")
    assert "Ký số: Nguyễn Văn A (Sở Tài chính, Ủy ban nhân dân tỉnh Bình Thuận), 09/06/2022 09:12, chưa kiểm tra được" \
        in word
    assert "Ký số" not in page(ds, f"/-/mail/{_message(signed_db, 'so-tai-chinh')}")


def test_campaign_page_shows_the_signature_beside_the_report(ds):
    html = get(ds, "/-/campaign/nq03-2022").text
    text = visible(html, tooltips=False)
    noi_vu = text[text.index("Đảng bộ Sở Nội vụ"):text.index("Đảng bộ Sở Tài chính")]
    # short beside the report (what holds for every signature alike, the chain not checked, in its tooltip)
    assert ("Báo cáo 60-BC.docx cùng nội dung: Báo cáo 60-BC.pdf Ký số: Nguyễn Văn A, 09/06/2022 09:12, "
            "còn nguyên vẹn xem thư") in noi_vu
    assert f'title="{SIGNED_LINE}"' in html
    assert "Chưa ký số" not in noi_vu
    tai_chinh = text[text.index("Đảng bộ Sở Tài chính"):text.index("Chi bộ Sở Công Thương")]
    assert tai_chinh.count("Chưa ký số") == 1 and "Ký số:" not in tai_chinh  # among what is missing, not twice
    xay_dung = text[text.index("Đảng bộ Sở Xây dựng"):text.index("Chi bộ Hội Nông dân tỉnh")]
    assert xay_dung.count("Bản ký số đã bị sửa") == 1 and "đã bị sửa sau khi ký" in xay_dung
    incomplete = visible(get(ds, "/-/campaign/nq03-2022?xem=con-thieu").text, tooltips=False)
    assert "Đảng bộ Sở Tài chính" in incomplete and "Đảng bộ Sở Nội vụ" not in incomplete


def test_signatures_table_is_labelled(ds):
    html = get(ds, "/demo/signatures").text
    for label in ("Người ký", "Thời điểm ký", "Còn nguyên vẹn", "Sửa sau khi ký", "Chứng thư tin cậy"):
        assert label in html

