"""The status rules and the resubmission policy, on facts built by hand."""

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.settings import default_rules
from rules.campaign import load_campaign
from rules.facts import DocumentFacts, MailFacts
from rules.status import campaign_status

VN = timezone(timedelta(hours=7))
CAMPAIGN = load_campaign(f"{default_rules()}/nq03-2022.yml")
BEFORE = datetime(2022, 6, 10, 9, 0, tzinfo=VN)
AFTER = datetime(2022, 6, 16, 9, 0, tzinfo=VN)
LATER = datetime(2022, 6, 20, tzinfo=VN)


def report(bcd=None, missing=(), doc_id="r"):
    return DocumentFacts(doc_id, "bao-cao.docx", "report", list(missing), {"quyet_dinh_bcd": bcd})


def quy_che():
    return DocumentFacts("q", "quy-che.docx", "quy_che_dan_chu")


def qd_bcd():
    return DocumentFacts("d", "qd.docx", "quyet_dinh_bcd")


def mail(mid, when, docs, unit="so-noi-vu", key=None, counted=True):
    return MailFacts(mid, when, unit, key or mid, counted, docs)


def status_of(mails, unit="so-noi-vu", now=LATER):
    return next(s for s in campaign_status(CAMPAIGN, mails, now) if s.unit == unit)


def test_complete_submission_on_time():
    s = status_of([mail("m1", BEFORE, [report(bcd=True), quy_che(), qd_bcd()])])
    assert (s.status, s.missing_attachments, s.missing_sections) == ("on_time", [], [])
    assert s.received_at == BEFORE


def test_arriving_exactly_at_the_deadline_is_late():
    assert status_of([mail("m1", CAMPAIGN.deadline, [report(), quy_che()])]).status == "late"
    just_before = CAMPAIGN.deadline - timedelta(seconds=1)
    assert status_of([mail("m1", just_before, [report(), quy_che()])]).status == "on_time"


def test_missing_required_attachment():
    s = status_of([mail("m1", BEFORE, [report(bcd=False)])])
    assert s.missing_attachments == ["quy_che_dan_chu"]


@pytest.mark.parametrize("affirmed, missing", [(True, ["quyet_dinh_bcd"]), (False, []), (None, [])])
def test_if_mentioned_attachment_needed_only_when_affirmed(affirmed, missing):
    s = status_of([mail("m1", BEFORE, [report(bcd=affirmed), quy_che()])])
    assert s.missing_attachments == missing


def test_missing_sections_come_from_the_newest_report():
    first = mail("m1", BEFORE, [report(missing=["II.3", "III"], doc_id="r1"), quy_che()])
    second = mail("m2", BEFORE + timedelta(days=1), [report(missing=[], doc_id="r2")])
    s = status_of([first, second])
    assert s.missing_sections == [] and s.report == "r2"
    assert "resubmitted" in s.flags


def test_status_comes_from_the_first_report_even_if_resubmitted_late():
    s = status_of([mail("m1", BEFORE, [report(), quy_che()]), mail("m2", AFTER, [report(doc_id="r2")])])
    assert s.status == "on_time" and s.received_at == BEFORE


def test_attachment_sent_later_clears_the_flag_and_is_marked_late():
    s = status_of([mail("m1", BEFORE, [report()]), mail("m2", AFTER, [quy_che()])])
    assert s.status == "on_time"
    assert s.missing_attachments == []
    assert "late_attachment:quy_che_dan_chu" in s.flags


def test_as_of_a_moment_ignores_later_mail():
    mails = [mail("m1", BEFORE, [report()]), mail("m2", AFTER, [quy_che()])]
    s = status_of(mails, now=datetime(2022, 6, 12, tzinfo=VN))
    assert s.missing_attachments == ["quy_che_dan_chu"]


def test_pending_before_deadline_missing_after():
    assert status_of([], now=BEFORE).status == "pending"
    assert status_of([], now=AFTER).status == "missing"


def test_mail_without_report_is_not_a_submission():
    s = status_of([mail("m1", BEFORE, [quy_che()])], now=AFTER)
    assert s.status == "missing" and "no_report" in s.flags


def test_auto_replies_and_unrelated_mail_never_count():
    s = status_of([mail("m1", BEFORE, [report()], counted=False)])
    assert s.status == "missing"


def test_duplicate_delivery_counts_once():
    a = mail("m1", BEFORE, [report()], key="same")
    b = mail("m2", BEFORE + timedelta(minutes=5), [report(doc_id="r2")], key="same")
    s = status_of([a, b])
    assert s.messages == ["m1"] and "resubmitted" not in s.flags


def test_unattributed_submissions_are_listed_with_unit_null():
    stray = mail("m9", BEFORE, [report()], unit=None)
    result = campaign_status(CAMPAIGN, [stray], LATER)
    strays = [s for s in result if s.unit is None]
    assert len(strays) == 1 and strays[0].status == "on_time" and "unknown_sender" in strays[0].flags
    assert len(result) == len(CAMPAIGN.units) + 1
