"""The settings registry (pipeline/settings.py): every variable declared once, every bad value one
line and exit status 2 for every command, one spelling of switches, and the password file first."""

from __future__ import annotations

import pytest

from pipeline import settings
from pipeline.alerts import AlertSettings
from pipeline.settings import SettingError, load
from tests.conftest import SAMPLE_INBOX

TYPED = [(spec.var, name) for name, spec in settings.declared()
         if settings.field_type(name) not in (str, str | None, tuple[str, ...]) or spec.choices or spec.check]


@pytest.mark.parametrize("var, name", TYPED)
def test_every_typed_setting_refuses_nonsense_naming_itself(var, name):
    with pytest.raises(SettingError) as caught:
        load({var: "??"})
    assert str(caught.value).startswith(f"{var}") and "'??'" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("command", [["ingest", str(SAMPLE_INBOX / "09-so-cong-thuong-tra-loi-tu-dong.eml")],
                                     ["reprocess"], ["status"], ["alerts"], ["extract", "x.docx"]])
@pytest.mark.parametrize("variable, value, accepts", [
    ("INTAKE_SOFFICE_JOBS", "two", "a whole number of conversions, at least 1"),  # was a traceback at import
    ("INTAKE_OCR_DPI", "abc", "a whole number of dots per inch from 72 to 600"),  # was silently 300
    ("INTAKE_ALERTS", "perhaps", "1 or 0 (or true/yes/on, false/no/off)"),  # was silently off
    ("INTAKE_IMAP_IDLE", "maybe", "1 or 0 (or true/yes/on, false/no/off)"),  # was silently on
])
def test_a_bad_value_is_one_line_and_exit_2_for_every_command(run_cli, monkeypatch, command, variable, value, accepts):
    monkeypatch.setenv(variable, value)
    result = run_cli(*command)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"Error: {variable} must be {accepts}, not '{value}'"]


def test_switches_take_one_set_of_spellings():
    for word in ("1", "true", "Yes", "ON"):
        assert load({"INTAKE_ALERTS": word, "INTAKE_IMAP_IDLE": word}).alerts is True
    for word in ("0", "false", "No", "off"):
        s = load({"INTAKE_ALERTS": word, "INTAKE_IMAP_IDLE": word})
        assert (s.alerts, s.imap_idle) == (False, False)
    assert load({"INTAKE_IMAP_SSL": "yes"}).imap_ssl == "1" and load({"INTAKE_SMTP_SSL": "no"}).smtp_ssl is False


def test_the_password_file_wins_for_smtp_as_for_imap(tmp_path):
    from pipeline.imap import ImapSettings

    secret = tmp_path / "pw"
    secret.write_text("tu-tep\n")
    secret.chmod(0o600)
    both = {"INTAKE_SMTP_PASSWORD": "bien", "INTAKE_SMTP_PASSWORD_FILE": str(secret), "INTAKE_IMAP_HOST": "127.0.0.1",
            "INTAKE_IMAP_USER": "u", "INTAKE_IMAP_PASSWORD": "bien", "INTAKE_IMAP_PASSWORD_FILE": str(secret)}
    assert AlertSettings.from_env(both).smtp_password == ImapSettings.from_env(both).password == "tu-tep"
    assert sorted(load(both).secrets()) == ["bien", "tu-tep"]


def test_defaults_are_the_declared_ones():
    s = load({})
    assert (s.db, s.port, s.imap_ssl, s.imap_folder, s.ocr_dpi, s.ocr_psm, s.workers) == (
        "intake.db", 8001, "1", ("INBOX",), 300, "6", None)
    assert s.extractor_config().limits == s.limits()
