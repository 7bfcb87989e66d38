from datetime import datetime, timedelta, timezone

import pytest
import yaml

from pipeline.settings import default_rules
from rules.campaign import CampaignError, load_campaign, load_campaigns, unit_key

SHIPPED = f"{default_rules()}/nq03-2022.yml"


def test_shipped_campaign_has_the_full_outline():
    c = load_campaign(SHIPPED)
    assert c.id == "nq03-2022"
    assert c.outline_keys == ["I", "I.1", "I.2", "I.3", "II", "II.1", "II.2", "II.3", "III"]
    assert c.deadline == datetime(2022, 6, 15, tzinfo=timezone(timedelta(hours=7)))
    assert [a.id for a in c.attachments] == ["quy_che_dan_chu", "quyet_dinh_bcd"]
    assert c.attachments[1].required == "if_mentioned"
    assert c.outline[5].title == "Ưu điểm"  # the letter's "Ƣu điểm", repaired
    assert c.outline[7].title == "Nguyên nhân của hạn chế, bất cập"
    assert all(u.emails for u in c.units)


def test_loading_a_folder_reads_every_campaign(tmp_path):
    data = yaml.safe_load(open(SHIPPED, encoding="utf-8"))
    (tmp_path / "a.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    data["id"] = "other"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a campaign")
    assert [c.id for c in load_campaigns(tmp_path)] == ["nq03-2022", "other"]


def _broken(tmp_path, change) -> str:
    data = yaml.safe_load(open(SHIPPED, encoding="utf-8"))
    change(data)
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("deadline"), "deadline"),
    (lambda d: d.update(deadline="15/6/2022"), "deadline"),
    (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
    (lambda d: d.update(outline=[]), "outline"),
    (lambda d: d["outline"][0].pop("title"), "title"),
    (lambda d: d["attachments"][1].update(required="maybe"), "required"),
    (lambda d: d["attachments"][1].pop("mentioned_by"), "mentioned_by"),
    (lambda d: d["units"][0].update(emails=["not-an-address"]), "emails"),
    (lambda d: d["units"].append(dict(d["units"][0])), "used twice"),
    (lambda d: d.update(units="missing-units.yml"), "units"),
    (lambda d: d.update(closed="yes"), "closed"),
])
def test_a_broken_file_is_named_with_its_field(tmp_path, change, field):
    path = _broken(tmp_path, change)
    with pytest.raises(CampaignError) as err:
        load_campaign(path)
    assert path in str(err.value) and field in str(err.value)


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(CampaignError, match="bad.yml: not valid YAML"):
        load_campaign(path)


def test_units_may_live_in_a_shared_file(tmp_path):
    (tmp_path / "units.yml").write_text(
        "units:\n  - {id: u1, name: Chi bộ Văn phòng, emails: [a@b.vn]}\n", encoding="utf-8")
    path = _broken(tmp_path, lambda d: d.update(units="units.yml"))
    assert [u.id for u in load_campaign(path).units] == ["u1"]


def test_deadline_without_offset_is_read_in_the_campaign_time_zone(tmp_path):
    path = _broken(tmp_path, lambda d: d.update(deadline="2022-06-15T00:00:00"))
    assert load_campaign(path).deadline.utcoffset() == timedelta(hours=7)


def test_unit_key_ignores_the_party_prefix_case_and_diacritics():
    assert unit_key("ĐẢNG ỦY SỞ NỘI VỤ") == unit_key("Đảng bộ Sở Nội vụ") == "so noi vu"
    assert unit_key("CHI BỘ HỘI NÔNG DÂN TỈNH") == unit_key("Chi bộ Hội Nông dân tỉnh")


def test_an_unquoted_comma_in_a_title_is_caught(tmp_path):
    path = tmp_path / "comma.yml"
    path.write_text(CAMPAIGN_TEXT.replace('"Hạn chế, bất cập"', "Hạn chế, bất cập"), encoding="utf-8")
    with pytest.raises(CampaignError, match="unknown field"):
        load_campaign(path)


CAMPAIGN_TEXT = open(SHIPPED, encoding="utf-8").read()
