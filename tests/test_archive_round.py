"""`intake archive`: a closed round moves to a database file of its own, whole, and is served from
there as it was; the live database keeps the other rounds and loses nothing else."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib

import yaml

from pipeline.flow import ingest, statuses
from pipeline.serve import build_datasette
from pipeline.store import open_db
from tests.conftest import CAMPAIGN_FILE, SAMPLE_INBOX


def _rules(folder, campaign, closed: bool):
    folder.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(CAMPAIGN_FILE.read_text(encoding="utf-8"))
    data["closed"] = closed
    (folder / "nq03-2022.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def test_a_closed_round_moves_whole_to_its_own_file_and_is_served_from_there(tmp_path, campaign, run_cli):
    live, archived = tmp_path / "intake.db", tmp_path / "luu-tru-2022.db"
    other = dataclasses.replace(campaign, id="dot-sau", keywords=["ĐỢT-SAU"], thread_ids=[])
    closed = dataclasses.replace(campaign, closed=True)
    db = open_db(str(live))
    ingest(db, [str(SAMPLE_INBOX)], [closed, other], workers=1)
    before = [s.as_json() for s in statuses(db, closed, None)]
    mails = {r[0] for r in db.execute("select id from messages where campaign_id = ?", [campaign.id])}
    kept = {r[0] for r in db.execute("select id from messages where campaign_id is not ?", [campaign.id])}
    db.close()
    assert mails and kept

    result = run_cli("archive", "--db", str(live), "--campaign", campaign.id, "--to", str(archived))
    assert result.exit_code == 0, result.output
    assert f"{len(mails)} mails of {campaign.id} moved" in result.output

    db, arch = open_db(str(live)), open_db(str(archived))
    assert {r[0] for r in arch.execute("select sha256 from raw_messages")} == mails
    assert {r[0] for r in db.execute("select sha256 from raw_messages")} == kept
    assert not db.execute("select count(*) from campaigns where id = ?", [campaign.id]).fetchone()[0]
    assert [s.as_json() for s in statuses(arch, closed, None)] == before
    files = arch.execute("select id, sha256 from attachments").fetchall()
    assert files
    assert db.execute("select count(*) from sections_fts where sections_fts match 'quy'").fetchone()[0] == 0
    assert arch.execute("select count(*) from sections_fts where sections_fts match 'quy'").fetchone()[0] > 0
    db.close()
    arch.close()

    again = run_cli("archive", "--db", str(live), "--campaign", campaign.id, "--to", str(archived))
    assert again.exit_code == 2 and "no campaign" in again.output

    ds = build_datasette(str(archived), env={}, rules=str(_rules(tmp_path / "archived-rules", campaign, True)))

    async def page() -> tuple[int, list[tuple[str, str]]]:
        await ds.invoke_startup()
        downloads = [(ident, await ds.client.get("/-/tai-ve/luu-tru-2022/tep", params={"id": ident}))
                     for ident, _ in files]
        return ((await ds.client.get(f"/-/campaign/{campaign.id}")).status_code,
                [(ident, hashlib.sha256(d.content).hexdigest()) for ident, d in downloads])
    assert asyncio.run(page()) == (200, files)  # every file of the round downloads from its raw mail there


def test_only_a_closed_round_is_archived(tmp_path, campaign, run_cli):
    live = tmp_path / "intake.db"
    ingest(open_db(str(live)), [str(SAMPLE_INBOX)], [campaign], workers=1)
    result = run_cli("archive", "--db", str(live), "--campaign", campaign.id, "--to", str(tmp_path / "a.db"))
    assert result.exit_code == 2 and "not closed" in result.output
    assert not (tmp_path / "a.db").exists()
