"""Alerts: what is due at a moment (pure rules), and sending it over real SMTP exactly once."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import pytest

from pipeline.store import open_db
from rules.alerts import Receipt, due_alerts, unanswerable
from rules.facts import DocumentFacts, MailFacts
from rules.status import submission_status
from tests.conftest import CAMPAIGN_FILE, SAMPLE_INBOX

REMINDER_TIME = "2022-06-13T08:00:00+07:00"
AFTER_DEADLINE = "2022-06-16T00:00:00+07:00"
AFTER_LATE_REPORT = "2022-06-17T00:00:00+07:00"
STAFF = "vanphong@dangbokhoi.example.vn"
UNIT_ADDR = {"so-noi-vu": ["dangbo@snv.example.vn"], "so-tai-chinh": ["dangbo@stc.example.vn"],
             "so-cong-thuong": ["chibo@sct.example.vn"], "so-xay-dung": ["dangbo@sxd.example.vn"],
             "hoi-nong-dan": ["chibo@hnd.example.vn"],
             "so-giao-duc": ["dangbo@sgddt.example.vn", "vanthu@sgddt.example.vn"],
             "so-y-te": ["dangbo@syt.example.vn"]}
UNKNOWN_SENDER = "vanthu.benhvien@gmail.com"  # the sample's report nobody could attribute


# ---- sample inbox in a fresh database per test ---------------------------------------------------------

@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    from pipeline.flow import ingest
    from rules.campaign import load_campaign

    path = tmp_path_factory.mktemp("alerts") / "sample.db"
    db = open_db(str(path))
    ingest(db, [str(SAMPLE_INBOX)], [load_campaign(CAMPAIGN_FILE)])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return path


@pytest.fixture
def alerts_cli(ingested, tmp_path, run_cli, monkeypatch, smtp_server):
    """`intake alerts ...` on a private copy of the ingested sample inbox, SMTP pointed at smtp_server."""
    path = tmp_path / "intake.db"
    with sqlite3.connect(ingested) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    monkeypatch.setenv("INTAKE_DB", str(path))
    for key, value in smtp_server.env().items():
        monkeypatch.setenv(key, value)

    def run(*args: str, code: int = 0):
        result = run_cli("alerts", "--json", *args)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)

    run.db_path = path
    return run


def rows(path) -> list[dict]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("select * from alerts order by id")]


def by_kind(items: list[dict]) -> dict[str, list[dict]]:
    result: dict[str, list[dict]] = {}
    for item in items:
        result.setdefault(item["kind"], []).append(item)
    return result


# ---- listing without --send ------------------------------------------------------------------------------

def test_listing_at_reminder_time_sends_nothing(alerts_cli, smtp_server):
    items = alerts_cli("--now", REMINDER_TIME)
    kinds = by_kind(items)
    # so-noi-vu's complete submission arrived on 10/6; everybody else has nothing yet.
    assert {a["unit"]: a["recipients"] for a in kinds["reminder"]} == {
        u: addrs for u, addrs in UNIT_ADDR.items() if u != "so-noi-vu"}
    assert [(a["unit"], a["recipients"]) for a in kinds["acknowledgement"]] == [
        ("so-noi-vu", ["dangbo@snv.example.vn"])]  # the duplicate delivery is acknowledged once
    assert set(kinds) == {"reminder", "acknowledgement"}
    assert all(set(a) == {"kind", "campaign", "unit", "recipients", "subject"} for a in items)
    assert all(a["campaign"] == "nq03-2022" for a in items)
    assert smtp_server.envelopes == [] and rows(alerts_cli.db_path) == []


def test_listing_after_deadline(alerts_cli, smtp_server):
    kinds = by_kind(alerts_cli("--now", AFTER_DEADLINE))
    assert "reminder" not in kinds and "late_arrival" not in kinds  # so-cong-thuong's report comes 16/6 08:40
    overdue = {a["unit"]: a["recipients"] for a in kinds["overdue"]}
    assert overdue == {"so-cong-thuong": ["chibo@sct.example.vn"], "so-y-te": ["dangbo@syt.example.vn"], None: [STAFF]}
    digest = next(a for a in kinds["overdue"] if a["unit"] is None)
    assert "2 đơn vị chưa nộp, 3 đơn vị nộp chưa đủ" in digest["subject"]
    acks = {a["unit"]: a["recipients"] for a in kinds["acknowledgement"]}
    assert acks == {"so-noi-vu": ["dangbo@snv.example.vn"], "so-tai-chinh": ["dangbo@stc.example.vn"],
                    "so-xay-dung": ["dangbo@sxd.example.vn"],
                    "so-giao-duc": ["giaoduc.dangbo@gmail.com"],  # the address it wrote from
                    "hoi-nong-dan": ["chibo@hnd.example.vn"],  # forwarded by the office: to the unit
                    None: [UNKNOWN_SENDER]}  # nobody's report: to whoever sent it
    kinds = by_kind(alerts_cli("--now", AFTER_LATE_REPORT))
    assert [(a["unit"], a["recipients"]) for a in kinds["late_arrival"]] == [("so-cong-thuong", [STAFF])]
    assert "so-cong-thuong" not in {a["unit"] for a in kinds["overdue"]}  # no longer missing
    assert smtp_server.envelopes == []


# ---- sending ---------------------------------------------------------------------------------------------

def test_send_delivers_vietnamese_mail_once(alerts_cli, smtp_server):
    sent = alerts_cli("--now", REMINDER_TIME, "--send")
    assert all(set(a["outcomes"].values()) == {"sent"} for a in sent)
    mails = smtp_server.messages
    assert len(mails) == 8  # 6 units reminded (so-giao-duc at two addresses), 1 acknowledgement
    assert sorted(rcpt for _, rcpts, _ in smtp_server.envelopes for rcpt in rcpts) == sorted(
        [a for u, addrs in UNIT_ADDR.items() if u != "so-noi-vu" for a in addrs] + ["dangbo@snv.example.vn"])
    reminder = next(m for m in mails if m["To"] == "chibo@sct.example.vn")
    assert reminder["Auto-Submitted"] == "auto-generated"
    assert reminder["From"].addresses[0].addr_spec == "vanphong@dangbokhoi.example.vn"
    assert reminder["From"].addresses[0].display_name == "Văn phòng Đảng ủy Khối"
    assert reminder["Subject"].startswith("[Nhắc hạn] Báo cáo Sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK")
    assert reminder.get_content_type() == "multipart/alternative"
    text = reminder.get_body(("plain",)).get_content()
    html = reminder.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Kính gửi Chi bộ Sở Công Thương" in body
        assert "chưa nhận được báo cáo" in body and "Quy chế dân chủ của cơ quan, đơn vị" in body
        assert "trước ngày 15/6/2022" in body
    ack = next(m for m in mails if m["To"] == "dangbo@snv.example.vn")
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<b8e1f0a2-60bc-dangbo@snv.example.vn>"
    assert ack["Subject"].startswith("[Đã nhận] ")
    assert "Báo cáo: Báo cáo sơ kết NQ03.docx" in ack.get_body(("plain",)).get_content()
    assert "đã đủ theo yêu cầu" in ack.get_body(("html",)).get_content()

    logged = rows(alerts_cli.db_path)
    assert len(logged) == 8 and {r["outcome"] for r in logged} == {"sent"}
    assert {r["kind"] for r in logged} == {"reminder", "acknowledgement"}
    assert alerts_cli("--now", REMINDER_TIME, "--send") == []  # a second run sends nothing
    assert alerts_cli("--now", REMINDER_TIME) == []  # and lists nothing left to do
    assert len(smtp_server.envelopes) == 8


def test_unit_that_completes_gets_no_further_reminder(alerts_cli, smtp_server):
    smtp_server.reply = "451 4.3.0 Máy chủ bận, thử lại sau"  # every reminder fails...
    failed = alerts_cli("--now", REMINDER_TIME, "--send", code=1)
    assert {a["unit"] for a in failed if a["kind"] == "reminder"} == set(UNIT_ADDR) - {"so-noi-vu"}
    smtp_server.reply = None
    # ...and is retried, except for so-giao-duc, whose complete submission arrived 14/6 21:33.
    retried = alerts_cli("--now", "2022-06-14T22:00:00+07:00", "--send")
    assert {a["unit"] for a in retried if a["kind"] == "reminder"} == set(UNIT_ADDR) - {"so-noi-vu", "so-giao-duc"}
    assert ("so-giao-duc", ["giaoduc.dangbo@gmail.com"]) in [
        (a["unit"], a["recipients"]) for a in retried if a["kind"] == "acknowledgement"]
    # Later runs before the deadline send no reminder again.
    assert [a for a in alerts_cli("--now", "2022-06-14T23:00:00+07:00", "--send") if a["kind"] == "reminder"] == []


def test_refused_mail_is_recorded_as_failed_and_retried(alerts_cli, smtp_server):
    smtp_server.reply = "451 4.3.0 Máy chủ bận, thử lại sau"
    failed = alerts_cli("--now", AFTER_DEADLINE, "--send", code=1)
    assert failed and all(set(a["outcomes"].values()) == {"failed"} for a in failed)
    logged = rows(alerts_cli.db_path)
    assert {r["outcome"] for r in logged} == {"failed"} and all(r["error"].startswith("451") for r in logged)
    assert smtp_server.envelopes == []
    smtp_server.reply = None
    retried = alerts_cli("--now", AFTER_DEADLINE, "--send")
    assert [(a["kind"], a["unit"]) for a in retried] == [(a["kind"], a["unit"]) for a in failed]
    assert len(smtp_server.envelopes) == len(logged)
    assert alerts_cli("--now", AFTER_DEADLINE, "--send") == []
    outcomes = [r["outcome"] for r in rows(alerts_cli.db_path)]
    assert outcomes.count("failed") == outcomes.count("sent") == len(logged)


def test_an_smtp_outage_counts_no_attempt_however_long_it_lasts(alerts_cli, smtp_server, run_cli, monkeypatch):
    from pipeline.alerts import MAX_ATTEMPTS
    from tests.servers import free_port

    monkeypatch.setenv("INTAKE_SMTP_PORT", str(free_port()))  # nothing listens there
    for _ in range(MAX_ATTEMPTS + 1):
        result = run_cli("alerts", "--json", "--now", AFTER_DEADLINE, "--send")
        assert result.exit_code == 1 and result.stdout.strip() == "[]"
        assert result.stderr.startswith("Error: cannot reach the SMTP server 127.0.0.1:")
        assert result.stderr.strip().endswith("what is still due is sent on the next run")
    assert rows(alerts_cli.db_path) == []
    monkeypatch.setenv("INTAKE_SMTP_PORT", str(smtp_server.port))  # the server is back: nothing was given up
    sent = alerts_cli("--now", AFTER_DEADLINE, "--send")
    assert sent and all(set(a["outcomes"].values()) == {"sent"} for a in sent)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_smtp_login_is_a_configuration_error(alerts_cli, run_cli, monkeypatch):
    from tests.servers import SmtpServer

    server = SmtpServer(credentials=("vanphong", "mật-khẩu-đúng")).start()
    try:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("INTAKE_SMTP_USER", "vanphong")
        monkeypatch.setenv("INTAKE_SMTP_PASSWORD", "mật-khẩu-sai")
        result = run_cli("alerts", "--now", AFTER_DEADLINE, "--send")
    finally:
        server.stop()
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: SMTP login as vanphong refused by 127.0.0.1:{server.port}: 535")
    assert "mật-khẩu" not in result.output and rows(alerts_cli.db_path) == [] and server.envelopes == []


def test_rate_limit_defers_the_excess_to_a_later_run(alerts_cli, smtp_server, monkeypatch):
    monkeypatch.setenv("INTAKE_ALERTS_PER_HOUR", "1")
    first = alerts_cli("--now", AFTER_LATE_REPORT, "--send")
    staff = [a for a in first if STAFF in a["recipients"]]
    assert sorted(a["outcomes"][STAFF] for a in staff) == ["deferred", "sent"]  # digest + late arrival
    assert sum(1 for r in rows(alerts_cli.db_path) if r["recipient"] == STAFF) == 1
    assert [a["outcomes"] for a in alerts_cli("--now", AFTER_LATE_REPORT, "--send")] == [{STAFF: "deferred"}]
    with sqlite3.connect(alerts_cli.db_path) as conn:  # an hour passes
        conn.execute("update alerts set attempted_at = '2000-01-01T00:00:00+00:00'")
    assert [a["outcomes"] for a in alerts_cli("--now", AFTER_LATE_REPORT, "--send")] == [{STAFF: "sent"}]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_password_is_used_but_never_stored(alerts_cli, tmp_path, monkeypatch, caplog):
    from tests.servers import SmtpServer

    secret = "mật-khẩu-bí-mật-42"
    server = SmtpServer(credentials=("vanphong", secret)).start()
    try:
        (tmp_path / "pw").write_text(secret + "\n", encoding="utf-8")
        (tmp_path / "pw").chmod(0o600)  # a password file others can read is refused
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("INTAKE_SMTP_USER", "vanphong")
        monkeypatch.setenv("INTAKE_SMTP_PASSWORD_FILE", str(tmp_path / "pw"))
        assert alerts_cli("--now", REMINDER_TIME, "--send")
        assert len(server.envelopes) == 8
    finally:
        server.stop()
    assert secret not in caplog.text
    for name in ("intake.db", "intake.db-wal"):
        path = tmp_path / name
        if path.exists():
            assert secret.encode() not in path.read_bytes()


def test_missing_smtp_settings_is_a_configuration_error(run_cli):
    result = run_cli("alerts", "--send")
    assert result.exit_code == 2 and "INTAKE_SMTP_HOST" in result.output


# ---- the pure rules ----------------------------------------------------------------------------------

def _receipt(campaign, sender: str, subject: str = "Báo cáo NQ03", when: str = "2022-06-14T10:00:00+07:00"):
    at = datetime.fromisoformat(when)
    mail = MailFacts("m1", at, None, "k1", True, [DocumentFacts("d1", "<b>bc</b>.docx", "report", ["III"])])
    return Receipt(mail, sender, subject, "id@x", "issuer", submission_status(campaign, None, [mail], at))


def test_no_acknowledgement_to_no_reply_addresses(campaign):
    now = datetime.fromisoformat("2022-06-14T12:00:00+07:00")
    for sender in ("noreply@example.vn", "no-reply@example.vn", "MAILER-DAEMON@example.vn", "bounces+x@list.vn"):
        assert unanswerable(sender)
        assert due_alerts(campaign, [], [_receipt(campaign, sender)], set(), now) == []
    assert not unanswerable("dangbo@snv.example.vn")


def test_html_escapes_what_came_from_the_mail(campaign):
    now = datetime.fromisoformat("2022-06-14T12:00:00+07:00")
    (ack,) = due_alerts(campaign, [], [_receipt(campaign, "a@b.vn", "<script>alert(1)</script>")], set(), now)
    assert ack.kind == "acknowledgement" and ack.unit is None and ack.recipients == ("a@b.vn",)
    assert "<script>" not in ack.html and "&lt;script&gt;" in ack.html and "&lt;b&gt;bc&lt;/b&gt;.docx" in ack.html
    assert ack.subject == "[Đã nhận] <script>alert(1)</script>" and "<b>bc</b>.docx" in ack.text
    assert "chưa xác định được đơn vị" in ack.text and "Mục III. ĐỀ XUẤT, KIẾN NGHỊ" in ack.text
    assert due_alerts(campaign, [], [_receipt(campaign, "a@b.vn")], {(ack.key, "a@b.vn")}, now) == []
    too_old = now + timedelta(days=30)
    assert due_alerts(campaign, [], [_receipt(campaign, "a@b.vn")], set(), too_old) == []


def _overdue(campaign, now: datetime, max_age: timedelta | None = timedelta(days=7)) -> dict:
    from rules.status import campaign_status

    alerts = due_alerts(campaign, campaign_status(campaign, [], now), [], set(), now, staff=[STAFF], max_age=max_age)
    return {a.unit: a.recipients for a in alerts if a.kind == "overdue"}


def test_overdue_notices_stop_once_the_deadline_is_older_than_max_age(campaign):
    """A campaign file kept in INTAKE_RULES after the round is over must not chase last year's reports."""
    soon = _overdue(campaign, campaign.deadline + timedelta(days=6, hours=23))
    assert soon[None] == (STAFF,) and {u for u in soon if u} == set(UNIT_ADDR)
    assert _overdue(campaign, campaign.deadline + timedelta(days=7, minutes=1)) == {}
    assert set(_overdue(campaign, campaign.deadline + timedelta(days=400), max_age=None)) == {*UNIT_ADDR, None}


def test_closed_campaign_gets_no_alerts(campaign):
    import dataclasses

    closed = dataclasses.replace(campaign, closed=True)
    for now in (campaign.deadline - timedelta(days=1), campaign.deadline + timedelta(days=1)):
        receipts = [_receipt(campaign, "a@b.vn", when=now.isoformat())]
        assert due_alerts(campaign, [], receipts, set(), now, staff=[STAFF]) != []
        assert due_alerts(closed, [], receipts, set(), now, staff=[STAFF]) == []


# ---- one acknowledgement per submission, however often it is delivered ---------------------------------

def _noi_vu_copies() -> dict[str, bytes]:
    """so-noi-vu's mail delivered three times: directly, again by the relay (other Received only),
    and through the office's group address, which adds its headers, a subject tag and a footer."""
    from tests.fixtures.mail import VN, build_mail
    from tests.fixtures.make_sample_inbox import NOI_VU_ID, REPORTS, SUBJECT, quy_che_docx, quyet_dinh_bcd_docx

    files = [("Báo cáo sơ kết NQ03.docx", REPORTS["so-noi-vu"].docx()),
             ("Quy chế dân chủ.docx", quy_che_docx("Sở Nội vụ")),
             ("QĐ thành lập BCĐ.docx", quyet_dinh_bcd_docx("Sở Nội vụ"))]
    body = "Kính gửi Văn phòng Đảng ủy Khối.\nĐảng ủy Sở Nội vụ gửi báo cáo sơ kết kèm các tài liệu."

    def copy(minute: int, subject: str, text: str, headers: dict | None = None) -> bytes:
        return build_mail(sender="dangbo@snv.example.vn", sender_name="Đảng bộ Sở Nội vụ", subject=subject,
                          received=datetime(2022, 6, 10, 9, minute, tzinfo=VN),
                          date=datetime(2022, 6, 10, 9, 12, tzinfo=VN), message_id=NOI_VU_ID, body=text,
                          attachments=files, extra_headers=headers)

    footer = "\n--\nThư gửi tới nhóm vanphong@dangbokhoi.example.vn."
    return {"1-direct.eml": copy(15, SUBJECT, body), "2-again.eml": copy(47, SUBJECT, body),
            "3-group.eml": copy(16, f"[VP-ĐUK] {SUBJECT}", body + footer,
                                {"List-Id": "<vanphong.dangbokhoi.example.vn>", "Precedence": "list"})}


def test_one_acknowledgement_per_submission_not_per_delivery(run_cli, smtp_server, tmp_path, monkeypatch):
    for key, value in smtp_server.env().items():
        monkeypatch.setenv(key, value)
    copies = _noi_vu_copies()
    (tmp_path / "1-direct.eml").write_bytes(copies.pop("1-direct.eml"))
    assert run_cli("ingest", str(tmp_path / "1-direct.eml")).exit_code == 0

    def send(now: str) -> list[dict]:
        result = run_cli("alerts", "--json", "--send", "--now", now)
        assert result.exit_code == 0, result.output
        return [a for a in json.loads(result.stdout) if a["kind"] == "acknowledgement"]

    assert [a["recipients"] for a in send("2022-06-10T09:30:00+07:00")] == [["dangbo@snv.example.vn"]]
    for name, raw in copies.items():  # the other two deliveries arrive after the acknowledgement
        (tmp_path / name).write_bytes(raw)
        assert run_cli("ingest", str(tmp_path / name)).exit_code == 0
    assert send("2022-06-10T10:00:00+07:00") == []
    status = json.loads(run_cli("status", "--json", "--now", "2022-06-10T10:00:00+07:00").stdout)
    noi_vu = next(s for s in status if s["unit"] == "so-noi-vu")
    assert len(noi_vu["messages"]) == 1 and "resubmitted" not in noi_vu["flags"]
    # A better extractor changes content keys on `intake reprocess`: still answered once.
    with sqlite3.connect(tmp_path / "intake.db") as conn:
        conn.execute("update messages set content_key = 'v2:' || content_key")
    assert send("2022-06-10T10:30:00+07:00") == []
    assert len(smtp_server.envelopes) == 1


def test_deliveries_arriving_together_are_acknowledged_once(run_cli, smtp_server, tmp_path, monkeypatch):
    for key, value in smtp_server.env().items():
        monkeypatch.setenv(key, value)
    for name, raw in _noi_vu_copies().items():
        (tmp_path / name).write_bytes(raw)
    assert run_cli("ingest", str(tmp_path)).exit_code == 0
    listed = json.loads(run_cli("alerts", "--json", "--now", "2022-06-10T10:00:00+07:00").stdout)
    assert [(a["kind"], a["recipients"]) for a in listed] == [("acknowledgement", ["dangbo@snv.example.vn"])]
    assert run_cli("alerts", "--send", "--now", "2022-06-10T10:00:00+07:00").exit_code == 0
    (ack,) = smtp_server.messages
    assert ack["In-Reply-To"] == "<b8e1f0a2-60bc-dangbo@snv.example.vn>"


# ---- where late-arrival notices and the digest go -------------------------------------------------------

BOSS = "truongphong@dangbokhoi.example.vn"


@pytest.fixture
def without_staff(tmp_path, monkeypatch):
    """The sample campaign with its `staff:` line removed, as INTAKE_RULES."""
    text = CAMPAIGN_FILE.read_text(encoding="utf-8")
    assert "\nstaff: [vanphong@dangbokhoi.example.vn]\n" in text
    path = tmp_path / "nq03-khong-staff.yml"
    path.write_text(text.replace("\nstaff: [vanphong@dangbokhoi.example.vn]\n", "\n"), encoding="utf-8")
    monkeypatch.setenv("INTAKE_RULES", str(path))
    return path


@pytest.mark.parametrize("intake_staff, expected, source", [
    (None, STAFF, "INTAKE_SMTP_FROM, the office's own address: the campaign has no staff: and INTAKE_STAFF is not set"),
    (f"{BOSS.upper()}, ", BOSS, "INTAKE_STAFF"),
])
def test_without_staff_in_the_campaign_notices_go_to_intake_staff_else_the_office(
        alerts_cli, smtp_server, run_cli, without_staff, monkeypatch, intake_staff, expected, source):
    if intake_staff:
        monkeypatch.setenv("INTAKE_STAFF", intake_staff)
    check = run_cli("campaign", "check", str(without_staff))
    assert check.exit_code == 0
    assert check.stdout.splitlines()[-1] == f"  late arrivals and the digest go to: {expected} ({source})"
    sent = alerts_cli("--now", AFTER_LATE_REPORT, "--send")
    to_staff = sorted((a["kind"], a["unit"], a["outcomes"]) for a in sent if a["kind"] != "acknowledgement"
                      and a["unit"] in (None, "so-cong-thuong") and expected in a["outcomes"])
    assert to_staff == [("late_arrival", "so-cong-thuong", {expected: "sent"}), ("overdue", None, {expected: "sent"})]
    digest = next(m for m in smtp_server.messages if m["To"] == expected and m["X-Intake-Alert"] == "overdue")
    assert "đơn vị" in digest.get_body(("plain",)).get_content()


def test_campaign_check_says_where_notices_go(run_cli, without_staff, monkeypatch):
    def last_line(path) -> str:
        result = run_cli("campaign", "check", str(path))
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()[-1]

    assert last_line(CAMPAIGN_FILE) == f"  late arrivals and the digest go to: {STAFF} (staff: in the campaign file)"
    assert last_line(without_staff) == ("  late arrivals and the digest go to: - (nobody: set staff: in the campaign "
                                        "file, INTAKE_STAFF or INTAKE_SMTP_FROM)")
    monkeypatch.setenv("INTAKE_SMTP_PORT", "many")
    result = run_cli("campaign", "check", str(without_staff))
    assert result.exit_code == 2 and "INTAKE_SMTP_PORT must be a whole number" in result.output
