"""Staff decisions in the pure rules (rules/decisions.py, rules/status.py, rules/alerts.py), on
facts and decisions built by hand: which decisions stand, what each kind does to the statuses, and
the alerts that follow them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from pipeline.settings import default_rules
from rules.alerts import Receipt, due_alerts
from rules.attribution import ISSUER_MATCH, SENDER_MATCH
from rules.campaign import SIGNATURE_REQUIRED, load_campaign
from rules.decisions import Decision, Roster, correct, paper_report, review, standings
from rules.facts import DocumentFacts, MailFacts
from rules.status import campaign_status, unit_status
from rules.vocabulary import DecisionState, StatusFlag

VN = timezone(timedelta(hours=7))
CAMPAIGN = load_campaign(f"{default_rules()}/nq03-2022.yml")
C = CAMPAIGN.id
BEFORE = datetime(2022, 6, 10, 9, 0, tzinfo=VN)
AFTER = datetime(2022, 6, 16, 9, 0, tzinfo=VN)
LATER = datetime(2022, 6, 20, tzinfo=VN)
GMAIL = "vanthu.syt@gmail.com"


def decision(n: int, kind: str, target: str, value: str | None = None, campaign: str = C, **more) -> Decision:
    return Decision(n, campaign, kind, target, value, by="vanphong", at="2022-06-16T08:00:00+00:00", **more)


def stray(mid: str = "m1", when: datetime = BEFORE, sender: str = GMAIL, key: str | None = None,
          kind: str = "report", unit: str | None = None, basis: str | None = None) -> MailFacts:
    docs = [DocumentFacts(f"{mid}:2", "bao-cao.docx", kind, [], {}), DocumentFacts(f"{mid}:3", "scan0001.pdf", "other")]
    return MailFacts(mid, when, unit, key or mid, True, docs, sender=sender, unit_basis=basis)


def entry(statuses, unit):
    return next(s for s in statuses if s.unit == unit)


def test_undo_revokes_and_an_undone_undo_restores():
    ds = [decision(1, "exempt", "so-y-te"), decision(2, "undo", "so-y-te", revokes=1)]
    assert standings(ds)[1] == standings(ds)[1].__class__(DecisionState.REVOKED, 2)
    assert entry(campaign_status(CAMPAIGN, [], LATER, ds), "so-y-te").status == "missing"
    ds.append(decision(3, "undo", "so-y-te", revokes=2))
    assert standings(ds)[1].state == DecisionState.IN_FORCE and standings(ds)[2].state == DecisionState.REVOKED
    assert entry(campaign_status(CAMPAIGN, [], LATER, ds), "so-y-te").status == "exempt"


def test_the_latest_decision_about_one_thing_wins_and_the_earlier_returns_when_it_is_undone():
    mails = [stray()]
    ds = [decision(1, "assign", "m1", "so-y-te"), decision(2, "assign", "m1", "so-noi-vu")]
    assert standings(ds)[1].state == DecisionState.SUPERSEDED and standings(ds)[1].by == 2
    statuses = campaign_status(CAMPAIGN, mails, LATER, ds)
    assert entry(statuses, "so-noi-vu").report == "m1:2" and entry(statuses, "so-y-te").status == "missing"
    ds.append(decision(3, "undo", "m1", revokes=2))
    assert entry(campaign_status(CAMPAIGN, mails, LATER, ds), "so-y-te").report == "m1:2"


def test_assign_makes_a_stray_the_units_and_lists_the_decision():
    before = campaign_status(CAMPAIGN, [stray()], LATER)
    assert entry(before, None).report == "m1:2" and entry(before, "so-y-te").status == "missing"
    after = campaign_status(CAMPAIGN, [stray()], LATER, [decision(1, "assign", "m1", "so-y-te")])
    assert all(s.unit is not None for s in after)  # nobody's no more
    got = entry(after, "so-y-te")
    assert (got.status, got.report, got.decisions, got.messages) == ("on_time", "m1:2", [1], ["m1"])


def test_a_mail_decision_reaches_every_delivery_of_the_mail():
    deliveries = [stray("m1", BEFORE, key="k"), stray("m2", BEFORE + timedelta(minutes=5), key="k")]
    statuses = campaign_status(CAMPAIGN, deliveries, LATER, [decision(1, "assign", "m2", "so-y-te")])
    assert [s.unit for s in statuses if s.unit is None] == []
    assert entry(statuses, "so-y-te").messages == ["m1"]  # the first delivery counts, as always


def test_ignore_sets_a_mail_aside_even_one_intake_attributed():
    mine = stray(sender="dangbo@snv.example.vn", unit="so-noi-vu", basis=SENDER_MATCH)
    got = entry(campaign_status(CAMPAIGN, [mine], LATER, [decision(1, "ignore", "m1")]), "so-noi-vu")
    assert (got.status, got.report, got.decisions) == ("missing", None, [1])
    set_aside = campaign_status(CAMPAIGN, [stray()], LATER, [decision(1, "ignore", "m1")])
    assert [s for s in set_aside if s.unit is None] == []


def test_kind_says_what_a_file_is():
    mine = stray(sender="dangbo@snv.example.vn", unit="so-noi-vu", basis=SENDER_MATCH)
    assert entry(campaign_status(CAMPAIGN, [mine], LATER), "so-noi-vu").missing_attachments == ["quy_che_dan_chu"]
    got = entry(campaign_status(CAMPAIGN, [mine], LATER, [decision(1, "kind", "m1:3", "quy_che_dan_chu")]), "so-noi-vu")
    assert (got.missing_attachments, got.decisions) == ([], [1])
    unreported = entry(campaign_status(CAMPAIGN, [mine], LATER, [decision(1, "kind", "m1:2", "other")]), "so-noi-vu")
    assert unreported.status == "missing" and StatusFlag.NO_REPORT in unreported.flags


def test_exempt_owes_nothing_even_after_sending_something():
    sent = stray(sender="dangbo@snv.example.vn", unit="so-noi-vu", basis=SENDER_MATCH, kind="other")
    got = entry(campaign_status(CAMPAIGN, [sent], LATER, [decision(1, "exempt", "so-noi-vu")]), "so-noi-vu")
    assert (got.status, got.missing_attachments, got.missing_sections, got.decisions) == ("exempt", [], [], [1])
    assert StatusFlag.NO_REPORT not in got.flags


def test_paper_counts_from_its_time_with_every_listed_attachment():
    late = MailFacts("e1", AFTER, "so-cong-thuong", "e1", True, [DocumentFacts("e1:2", "bc.docx", "report", ["III"])])
    ds = [decision(1, "paper", "so-cong-thuong", "2022-06-14T09:00:00+07:00")]
    got = entry(campaign_status(CAMPAIGN, [late], LATER, ds), "so-cong-thuong")
    assert got.status == "on_time" and got.received_at == datetime(2022, 6, 14, 9, tzinfo=VN)
    assert got.missing_attachments == [] and got.missing_sections == ["III"]  # the e-mailed report is newer
    assert StatusFlag.ON_PAPER in got.flags and got.messages == ["e1"] and got.decisions == [1]
    alone = entry(campaign_status(CAMPAIGN, [], LATER, ds), "so-cong-thuong")
    assert (alone.status, alone.report, alone.messages) == ("on_time", paper_report(1), [])
    before = entry(campaign_status(CAMPAIGN, [], datetime(2022, 6, 13, tzinfo=VN), ds), "so-cong-thuong")
    assert before.status == "pending"  # not yet come


def test_a_remembered_address_attributes_other_mail_but_never_over_the_campaign_file():
    ds = [decision(1, "assign", "m1", "so-y-te", address=GMAIL)]
    later = stray("m2", AFTER, basis=ISSUER_MATCH, unit="so-tai-chinh")  # the letterhead said otherwise
    statuses = campaign_status(CAMPAIGN, [stray(), later], LATER, ds)
    assert entry(statuses, "so-y-te").messages == ["m1", "m2"] and entry(statuses, "so-y-te").decisions == [1]
    assert entry(statuses, "so-tai-chinh").status == "missing"
    registered = stray("m3", AFTER, sender="dangbo@snv.example.vn", unit="so-noi-vu", basis=SENDER_MATCH)
    fixed = campaign_status(CAMPAIGN, [registered], LATER, [decision(1, "assign", "m1", "so-y-te",
                                                                      address="dangbo@snv.example.vn")])
    assert entry(fixed, "so-noi-vu").messages == ["m3"]
    other = decision(1, "assign", "x", "so-y-te", campaign="another-campaign", address=GMAIL)
    assert entry(campaign_status(CAMPAIGN, [stray()], LATER, [other]), "so-y-te").messages == ["m1"]


def test_decisions_about_what_is_gone_are_kept_and_say_why():
    ds = [decision(1, "assign", "gone-mail", "so-y-te"), decision(2, "exempt", "so-khong-con"),
          decision(3, "kind", "m1:9", "report"), decision(4, "kind", "m1:2", "phu_luc_cu"),
          decision(5, "note", "so-y-te", "Đã gọi điện", campaign="nam-ngoai"), decision(6, "ignore", "m1"),
          decision(7, "assign", "m1", "so-khong-con")]
    roster = {C: Roster.of(CAMPAIGN)}
    states = {n: s.state for n, s in review(ds, roster, {"m1"}, {"m1:2", "m1:3"}).items()}
    assert states == {1: DecisionState.MAIL_GONE, 2: DecisionState.UNIT_GONE, 3: DecisionState.ATTACHMENT_GONE,
                      4: DecisionState.KIND_GONE, 5: DecisionState.CAMPAIGN_GONE, 6: DecisionState.SUPERSEDED,
                      7: DecisionState.UNIT_GONE}
    statuses = campaign_status(CAMPAIGN, [stray()], LATER, ds)  # nothing applies, nothing breaks
    assert entry(statuses, None).report == "m1:2"


def test_status_json_lists_the_decisions():
    got = entry(campaign_status(CAMPAIGN, [], LATER, [decision(4, "exempt", "so-y-te")]), "so-y-te").as_json()
    assert got["status"] == "exempt" and got["decisions"] == [4]


# ---- alerts -------------------------------------------------------------------------------------------

STAFF = "vanphong@dangbokhoi.example.vn"


def _receipts(mails, ds):
    corrected = correct(CAMPAIGN, mails, ds)
    return [Receipt(m, m.sender, "Báo cáo", f"<{m.id}@x>", m.unit_basis,
                    unit_status(CAMPAIGN, m.unit, [x for x in corrected.mails if x.unit == m.unit], m.received_at,
                                corrected))
            for m in corrected.mails if not m.id.startswith("decision:")]


def _due(mails, ds, now, sent=()):
    return due_alerts(CAMPAIGN, campaign_status(CAMPAIGN, mails, now, ds), _receipts(mails, ds), set(sent), now,
                      staff=[STAFF])


def test_an_exempt_unit_gets_no_reminder_and_no_overdue_notice_and_is_not_in_the_digest():
    ds = [decision(1, "exempt", "so-y-te")]
    reminded = {a.unit for a in _due([], ds, CAMPAIGN.deadline - timedelta(days=1)) if a.kind == "reminder"}
    assert "so-y-te" not in reminded and "so-noi-vu" in reminded
    overdue = [a for a in _due([], ds, CAMPAIGN.deadline + timedelta(days=1)) if a.kind == "overdue"]
    assert "so-y-te" not in {a.unit for a in overdue}
    digest = next(a for a in overdue if a.unit is None)
    assert "Đảng bộ Sở Y tế" not in digest.text and "Đảng bộ Sở Nội vụ" in digest.text


def test_an_assigned_mail_gets_its_units_acknowledgement_once():
    now = BEFORE + timedelta(hours=1)
    (before,) = [a for a in _due([stray()], [], now) if a.kind == "acknowledgement"]
    assert before.unit is None and before.recipients == (GMAIL,)
    ds = [decision(1, "assign", "m1", "so-y-te")]
    (after,) = [a for a in _due([stray()], ds, now, {(before.key, GMAIL)}) if a.kind == "acknowledgement"]
    assert after.unit == "so-y-te" and after.recipients == (GMAIL,) and "Đảng bộ Sở Y tế" in after.text
    assert [a for a in _due([stray()], ds, now, {(before.key, GMAIL), (after.key, GMAIL)})
            if a.kind == "acknowledgement"] == []


def test_a_paper_submission_is_acknowledged_to_nobody():
    now = datetime(2022, 6, 14, 10, tzinfo=VN)
    ds = [decision(1, "paper", "so-y-te", "2022-06-14T09:00:00+07:00")]
    alerts = _due([], ds, now)
    assert [a for a in alerts if a.kind in ("acknowledgement", "late_arrival")] == []
    assert "so-y-te" not in {a.unit for a in alerts if a.kind == "reminder"}  # complete: nothing to remind


def test_with_signature_required_a_paper_copy_and_an_exempt_unit_owe_no_digital_signature():
    signed = replace(CAMPAIGN, signature=SIGNATURE_REQUIRED)
    unsigned = stray(sender="dangbo@snv.example.vn", unit="so-noi-vu", basis=SENDER_MATCH)
    assert entry(campaign_status(signed, [unsigned], LATER), "so-noi-vu").missing_signature == StatusFlag.UNSIGNED
    exempt = entry(campaign_status(signed, [unsigned], LATER, [decision(1, "exempt", "so-noi-vu")]), "so-noi-vu")
    assert exempt.missing_signature is None and StatusFlag.UNSIGNED not in exempt.flags
    paper = entry(campaign_status(signed, [], LATER, [decision(1, "paper", "so-cong-thuong", "2022-06-14T09:00")]),
                  "so-cong-thuong")
    assert paper.missing_signature is None and StatusFlag.UNSIGNED not in paper.flags
