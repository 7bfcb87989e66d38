"""Which campaign a mail answers and which unit sent it (pure rules)."""

from __future__ import annotations

import dataclasses

from rules.attribution import MailSignals, attribute, campaign_score, issuer_unit


def signals(**kw) -> MailSignals:
    base = dict(subject="", body="", sender=None, forwarded_senders=[], thread_ids=[], auto_reply=False)
    base.update(kw)
    return MailSignals(**base)


def test_sender_address_wins(campaign):
    assert attribute(campaign, signals(sender="DangBo@STC.example.vn"), ["CHI BỘ SỞ CÔNG THƯƠNG"]) == (
        "so-tai-chinh", "sender")


def test_forwarded_mail_is_attributed_to_its_original_sender(campaign):
    mail = signals(sender="vanphong@dangbokhoi.example.vn", forwarded_senders=["chibo@hnd.example.vn"])
    assert attribute(campaign, mail, []) == ("hoi-nong-dan", "forwarded_sender")


def test_issuer_in_the_letterhead_names_the_unit(campaign):
    mail = signals(sender="someone@gmail.com")
    assert attribute(campaign, mail, ["ĐẢNG ỦY SỞ GIÁO DỤC VÀ ĐÀO TẠO"]) == ("so-giao-duc", "issuer")
    assert issuer_unit(campaign, "Đảng ủy Sở Xây Dựng") == "so-xay-dung"


def test_nobody_known_means_no_unit(campaign):
    assert attribute(campaign, signals(sender="x@example.com"), ["CÔNG TY ABC"]) == (None, None)


def test_campaign_is_recognized_by_keywords_thread_and_files(campaign):
    assert campaign_score(campaign, signals(subject="Báo cáo thực hiện NQ03"), []) >= 0.5
    assert campaign_score(campaign, signals(subject="Bao cao so ket nghi quyet 03-NQ/DUK"), []) >= 0.5
    assert campaign_score(campaign, signals(subject="Báo giá văn phòng phẩm"), []) == 0
    assert campaign_score(campaign, signals(subject="Gửi tài liệu"), ["report"]) >= 1
    assert campaign_score(campaign, signals(subject="Gửi tài liệu"), ["quy_che_dan_chu"]) >= 0.5
    threaded = dataclasses.replace(campaign, thread_ids=["cv125@dangbokhoi.example.vn"])
    reply = signals(subject="Re: công văn", thread_ids=["cv125@dangbokhoi.example.vn"])
    assert campaign_score(threaded, reply, []) >= 1
