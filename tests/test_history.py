"""Costs that stay flat as years of history pile up (issue 19), shown by counting what is done, not
by timing it: a refresh recomputes only the campaigns new mails touch, a mail is scored against the
campaigns that could win it, `reprocess --campaign` reads its campaign and not ten years of
unrelated mail. The answers stay the same."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from extractors.analyze import DocumentAnalysis, analyze
from pipeline.derive import CAMPAIGN_THRESHOLD, _read_files, _signals, derive_rows
from pipeline.flow import ingest, refresh_statuses, reprocess
from pipeline.mime import parse_mail
from pipeline.store import save_campaigns
from rules.attribution import MailSignals, campaign_score
from tests.conftest import SAMPLE_INBOX
from tests.fixtures.mail import VN, build_mail


def _rounds(campaign, n: int, closed: set[int] = frozenset()) -> list:
    """The bundled campaign and `n` other rounds with its outline, under their own ids and keywords."""
    return [campaign] + [dataclasses.replace(campaign, id=f"dot-{i}", title=f"Đợt {i}", keywords=[f"ĐỢT-{i}-KHÁC"],
                                             thread_ids=[], closed=i in closed) for i in range(n)]


def _recomputed(db) -> None:
    """From now on, every campaign whose statuses are rewritten on this connection is listed in
    temp.recomputed (once per rewrite)."""
    db.execute("create temp table recomputed (campaign_id text)")
    db.execute("""create temp trigger count_recomputed after insert on main.submissions when new.row = 0
                  begin insert into recomputed values (new.campaign_id); end""")


def _counted(db) -> list[str]:
    rows = [r[0] for r in db.execute("select campaign_id from temp.recomputed order by rowid")]
    db.execute("delete from temp.recomputed")
    return rows


def _report_mail(campaign, n: int) -> bytes:
    unit = campaign.units[0]
    return build_mail(sender=unit.emails[0], sender_name=unit.name, subject=f"Báo cáo thực hiện NQ03 (lần {n})",
                      received=datetime(2022, 6, 12, 9, n, tzinfo=VN), body="Kính gửi Văn phòng.")


def test_a_refresh_after_one_new_mail_recomputes_only_its_campaign(db, campaign, tmp_path):
    rounds = _rounds(campaign, 3, closed={0})
    ingest(db, [str(SAMPLE_INBOX)], rounds, workers=1)
    _recomputed(db)
    (tmp_path / "new.eml").write_bytes(_report_mail(campaign, 1))
    assert ingest(db, [str(tmp_path / "new.eml")], rounds, workers=1).new == 1
    assert _counted(db) == [campaign.id]
    assert ingest(db, [str(tmp_path / "new.eml")], rounds, workers=1).new == 0
    assert _counted(db) == []  # nothing new, nothing recomputed
    refresh_statuses(db, rounds)  # serving: every open campaign, never the closed one
    assert _counted(db) == [campaign.id, "dot-1", "dot-2"]


def test_a_changed_campaign_file_is_recomputed_with_the_new_mails(db, campaign, tmp_path):
    rounds = _rounds(campaign, 2)
    ingest(db, [str(SAMPLE_INBOX)], rounds, workers=1)
    assert save_campaigns(db, rounds) == set()  # rows already as the files say: nothing written
    edited = [rounds[0], rounds[1], dataclasses.replace(rounds[2], units=rounds[2].units[:-1])]
    _recomputed(db)
    (tmp_path / "new.eml").write_bytes(_report_mail(campaign, 2))
    ingest(db, [str(tmp_path / "new.eml")], edited, workers=1)
    assert sorted(_counted(db)) == sorted([campaign.id, "dot-1"])
    assert db.execute("select count(*) from submissions where campaign_id = 'dot-1'").fetchone()[0] == \
        len(edited[2].units)


def _every_campaign_scored(campaigns, raw: bytes) -> str | None:
    """The campaign choice as it was before bounds: every campaign's outline aligned with every file."""
    mail = parse_mail(raw)
    docs = _read_files(mail)
    best, chosen = 0.0, None
    for c in campaigns:
        extractions = {part: analyze(doc, att.filename, c.profile()) for part, att, doc in docs}
        score = campaign_score(c, _signals(mail), [e.kind for e in extractions.values()])
        text = " ".join(e.text[:2000] for e in extractions.values())
        if score < CAMPAIGN_THRESHOLD and text:
            score = max(score, campaign_score(c, MailSignals(text, "", None, [], [], False), []))
        if score > best:
            best, chosen = score, c
    return chosen.id if chosen and best >= CAMPAIGN_THRESHOLD else None


@pytest.mark.parametrize("first", [True, False], ids=["bundled-first", "bundled-last"])
def test_a_mail_is_scored_only_against_the_campaigns_that_could_win_it(campaign, monkeypatch, first):
    rounds = _rounds(campaign, 20)
    rounds = rounds if first else rounds[1:] + rounds[:1]
    aligned = []
    for_profile = DocumentAnalysis.for_profile
    monkeypatch.setattr(DocumentAnalysis, "for_profile", lambda *args: aligned.append(1) or for_profile(*args))
    for path in sorted(SAMPLE_INBOX.glob("*.eml")):
        raw = path.read_bytes()
        expected = _every_campaign_scored(rounds, raw)
        aligned.clear()
        rows = derive_rows("m", raw, rounds, None)
        assert rows["message"]["campaign_id"] == expected, path.name
        files = len(_read_files(parse_mail(raw)))
        if expected == campaign.id and files:  # its keywords lift it above every other round
            assert len(aligned) == files, path.name


def test_reprocess_of_one_campaign_reads_its_mails_and_what_it_might_claim(db, campaign, tmp_path):
    rounds = _rounds(campaign, 1)
    plain = build_mail(sender="ban.be@example.vn", sender_name="Bạn", subject="Hẹn cà phê",
                       received=datetime(2022, 6, 12, 9, tzinfo=VN), body="Chiều nay nhé.")
    (tmp_path / "plain.eml").write_bytes(plain)
    ingest(db, [str(SAMPLE_INBOX), str(tmp_path / "plain.eml")], rounds, workers=1)
    mine = {r[0] for r in db.execute("select id from messages where campaign_id = ?", [campaign.id])}
    unclaimed = {r[0]: r[1] for r in db.execute("select id, n_files from messages where campaign_id is null")}
    plain_id = next(m for m, in db.execute("select id from messages where subject = 'Hẹn cà phê'"))
    assert mine and unclaimed[plain_id] == 0 and any(unclaimed.values())
    derived: list[str] = []
    reprocess(db, rounds, campaign.id, workers=1, on_written=lambda job, *_: derived.append(job.digest))
    assert mine <= set(derived) and plain_id not in derived
    assert {m for m, files in unclaimed.items() if files} <= set(derived)
    assert {r[0] for r in db.execute("select id from messages where campaign_id = ?", [campaign.id])} == mine
