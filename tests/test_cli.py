"""The command-line contract: JSON shapes, environment variables, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import CAMPAIGN_FILE, SAMPLE_INBOX
from tests.fixtures.documents import Report, quy_che_docx
from tests.fixtures.make_sample_inbox import EXPECTED, NOW


def test_ingest_then_status_json(run_cli):
    assert run_cli("ingest", str(SAMPLE_INBOX)).exit_code == 0
    result = run_cli("status", "--json", "--now", NOW)
    assert result.exit_code == 0
    rows = json.loads(result.output)
    for row in rows:
        assert set(row) >= {"unit", "status", "received_at", "missing_attachments", "missing_sections", "flags"}
        assert row["status"] in ("on_time", "late", "missing", "pending")
    units = [r["unit"] for r in rows if r["unit"]]
    assert len(units) == len(set(units)) == len(EXPECTED)


def test_status_before_anything_arrived_is_pending(run_cli):
    rows = json.loads(run_cli("status", "--json", "--now", "2022-06-01T08:00:00+07:00").output)
    assert {r["status"] for r in rows} == {"pending"}
    rows = json.loads(run_cli("status", "--json", "--now", "2022-06-15T08:00:00+07:00").output)
    assert {r["status"] for r in rows} == {"missing"}


def test_extract_json_shape(run_cli, tmp_path):
    report = tmp_path / "Document1.docx"
    report.write_bytes(Report("Đảng ủy Sở Nội vụ", "ĐẢNG ỦY SỞ NỘI VỤ", "60-BC/ĐU", (2022, 6, 9),
                              "Nguyễn Thị Mai").docx())
    regulation = tmp_path / "scan0001.docx"
    regulation.write_bytes(quy_che_docx("Sở Nội vụ"))
    result = run_cli("extract", "--json", str(report), str(regulation))
    assert result.exit_code == 0, result.output
    first, second = json.loads(result.output)
    assert first["kind"] == "report" and second["kind"] == "quy_che_dan_chu"
    assert first["metadata"]["number"] == "60-BC/ĐU" and first["metadata"]["date"] == "2022-06-09"
    assert first["metadata"]["signer"] == "Nguyễn Thị Mai"
    assert [s["key"] for s in first["sections"]] == ["I", "I.1", "I.2", "I.3", "II", "II.1", "II.2", "II.3", "III"]
    assert all(set(s) >= {"key", "heading", "text"} for s in first["sections"])
    assert first["missing_sections"] == [] and "error" not in first


def test_unreadable_file_is_named_with_exit_1(run_cli, tmp_path):
    broken = tmp_path / "bao-cao.docx"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    result = run_cli("extract", "--json", str(broken), str(tmp_path / "absent.pdf"))
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    assert all(item["error"] for item in items)
    assert "absent.pdf" in result.stderr


def test_unreadable_source_is_named_with_exit_1(run_cli, tmp_path):
    result = run_cli("ingest", str(tmp_path / "no-such-folder"))
    assert result.exit_code == 1
    assert "no-such-folder" in result.stderr


def test_broken_campaign_file_is_a_configuration_error(run_cli, tmp_path, monkeypatch):
    bad = tmp_path / "bad.yml"
    bad.write_text(CAMPAIGN_FILE.read_text(encoding="utf-8").replace("deadline:", "deadlin:"), encoding="utf-8")
    monkeypatch.setenv("INTAKE_RULES", str(bad))
    result = run_cli("status", "--json")
    assert result.exit_code == 2
    assert "bad.yml" in result.output and "deadline" in result.output
    assert "Traceback" not in result.output


def test_bad_now_is_a_usage_error(run_cli):
    result = run_cli("status", "--now", "yesterday")
    assert result.exit_code == 2 and "ISO 8601" in result.output


def test_unknown_campaign_is_a_usage_error(run_cli):
    assert run_cli("status", "--campaign", "nope").exit_code == 2


def test_console_script_runs_with_environment_settings(tmp_path):
    env = {"INTAKE_DB": str(tmp_path / "x.db"), "INTAKE_RULES": str(CAMPAIGN_FILE), "PATH": ""}
    out = subprocess.run([sys.executable, "-m", "pipeline", "status", "--json"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == len(EXPECTED)
    assert (tmp_path / "x.db").exists()


def test_now_without_an_offset_is_read_in_the_campaigns_time_zone(tmp_path, run_cli, monkeypatch):
    """The same command gives the same answer in Hà Nội and in New York: 20:00 is the office's 20:00."""
    for zone in ("Asia/Ho_Chi_Minh", "America/New_York"):
        out = subprocess.run([sys.executable, "-m", "pipeline", "status", "--json", "--now", "2022-06-14T20:00"],
                             capture_output=True, text=True, timeout=120,
                             env={"INTAKE_DB": str(tmp_path / "x.db"), "INTAKE_RULES": str(CAMPAIGN_FILE), "TZ": zone})
        assert out.returncode == 0, out.stderr
        assert {r["status"] for r in json.loads(out.stdout)} == {"pending"}, zone  # the deadline is 15/6 00:00 +07:00
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yml").write_text(CAMPAIGN_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    (rules / "b.yml").write_text(CAMPAIGN_FILE.read_text(encoding="utf-8").replace("id: nq03-2022", "id: other")
                                 .replace("timezone: Asia/Ho_Chi_Minh", "timezone: Europe/Paris"), encoding="utf-8")
    monkeypatch.setenv("INTAKE_RULES", str(rules))
    result = run_cli("alerts", "--now", "2022-06-14T20:00")
    assert result.exit_code == 2 and "several time zones (Asia/Ho_Chi_Minh, Europe/Paris)" in result.output
