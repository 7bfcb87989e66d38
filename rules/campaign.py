"""Campaign files: one YAML file per call for reports (outline, deadline, attachments, units).

Loading validates every field and names the file and the field in the error, because the person
fixing a campaign file is office IT, not a developer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from extractors.model import KindSpec, OutlineNode, Profile
from extractors.text import fold


class CampaignError(ValueError):
    """A campaign file that cannot be used; the message names the file and the field."""


# `signature:` — whether the report must carry an intact digital signature (ký số); optional by default.
SIGNATURE_REQUIRED, SIGNATURE_OPTIONAL = "required", "optional"


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    emails: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other names the unit's documents use


@dataclass(frozen=True)
class AttachmentRule:
    id: str
    title: str
    required: bool | str  # True, False or "if_mentioned"
    mentioned_by: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()


@dataclass
class Campaign:
    id: str
    title: str
    deadline: datetime
    timezone: str
    keywords: list[str]
    outline: list[OutlineNode]
    attachments: list[AttachmentRule]
    units: list[Unit]
    staff: list[str] = field(default_factory=list)
    reminder_days: int = 2
    closed: bool = False  # finished: still shown, never alerted about
    thread_ids: list[str] = field(default_factory=list)  # Message-IDs of the call letter
    signature: str = SIGNATURE_OPTIONAL  # SIGNATURE_REQUIRED: the report must be digitally signed
    path: str = ""

    def profile(self) -> Profile:
        return Profile(
            outline=self.outline,
            kinds=[KindSpec(a.id, a.title, list(a.hints)) for a in self.attachments],
            title=self.title,
            keywords=self.keywords,
        )

    def unit(self, unit_id: str) -> Unit | None:
        return self._units_by_id.get(unit_id)

    def unit_of_address(self, address: str) -> str | None:
        """The id of the first unit that `address` (lower case) belongs to."""
        return self._units_by_address.get(address)

    # Looked up for every mail of every status refresh: 300 units read one by one per mail was
    # the slowest part of `intake status` on a round of a big office.
    @cached_property
    def _units_by_id(self) -> dict[str, Unit]:
        return {u.id: u for u in reversed(self.units)}

    @cached_property
    def _units_by_address(self) -> dict[str, str]:
        return {address: u.id for u in reversed(self.units) for address in u.emails}

    @property
    def outline_keys(self) -> list[str]:
        return [n.key for n in self.outline]


def _require(data: dict, key: str, where: str, kind: type | tuple[type, ...]):
    if key not in data or data[key] is None:
        raise CampaignError(f"{where}: field '{key}' is missing")
    value = data[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CampaignError(f"{where}: field '{key}' must be {names}, not {type(value).__name__}")
    return value


def _parse_deadline(value, tz: ZoneInfo, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise CampaignError(f"{where}: field 'deadline' is not an ISO 8601 date-time: {value!r}") from None
    # A deadline without an offset is read in the campaign's time zone, as the letter meant it.
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _parse_outline(items, where: str, level: int = 0, parent: str | None = None) -> list[OutlineNode]:
    if not isinstance(items, list) or not items:
        raise CampaignError(f"{where}: field 'outline' must be a non-empty list")
    nodes: list[OutlineNode] = []
    for i, item in enumerate(items):
        here = f"{where}: outline item {i + 1}" + (f" under {parent}" if parent else "")
        if not isinstance(item, dict):
            raise CampaignError(f"{here} must be a mapping with 'key' and 'title'")
        unknown = set(item) - {"key", "title", "children"}
        if unknown:
            # Usually an unquoted comma in a flow mapping: {key: II.2, title: Hạn chế, bất cập}
            raise CampaignError(f"{here}: unknown field(s) {', '.join(map(str, sorted(unknown, key=str)))}; "
                                "put titles that contain a comma in quotes")
        key = str(_require(item, "key", here, (str, int)))
        title = _require(item, "title", here, str)
        nodes.append(OutlineNode(key=key, title=title.strip(), level=level, parent=parent))
        if item.get("children"):
            nodes.extend(_parse_outline(item["children"], where, level + 1, key))
    return nodes


# libyaml's parser where PyYAML has it: the Python one took seconds for a 300-unit file, and every
# command reads every campaign file kept (150 after ten years).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml(text: str):
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader


def _parse_units(value, where: str, base: Path) -> list[Unit]:
    if isinstance(value, str):  # a path to a shared units file
        path = (base / value).resolve()
        try:
            loaded = _yaml(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CampaignError(f"{where}: field 'units': cannot read {path}: {exc}") from None
        value = loaded.get("units") if isinstance(loaded, dict) else loaded
        where = str(path)
    if not isinstance(value, list):
        raise CampaignError(f"{where}: field 'units' must be a list or a path to a units file")
    units, seen = [], set()
    for i, item in enumerate(value):
        here = f"{where}: unit {i + 1}"
        if not isinstance(item, dict):
            raise CampaignError(f"{here} must be a mapping with 'id', 'name' and 'emails'")
        uid = str(_require(item, "id", here, (str, int)))
        if uid in seen:
            raise CampaignError(f"{here}: id '{uid}' is used twice")
        seen.add(uid)
        emails = item.get("emails") or []
        if isinstance(emails, str):
            emails = [emails]
        if not all(isinstance(e, str) and "@" in e for e in emails):
            raise CampaignError(f"{here} ({uid}): field 'emails' must be a list of addresses")
        units.append(Unit(uid, _require(item, "name", here, str), tuple(e.strip().lower() for e in emails),
                          tuple(item.get("aliases") or ())))
    return units


def _parse_attachments(value, where: str) -> list[AttachmentRule]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CampaignError(f"{where}: field 'attachments' must be a list")
    rules = []
    for i, item in enumerate(value):
        here = f"{where}: attachment {i + 1}"
        if not isinstance(item, dict):
            raise CampaignError(f"{here} must be a mapping with 'id', 'title' and 'required'")
        aid = _require(item, "id", here, str)
        required = item.get("required", True)
        if required not in (True, False, "if_mentioned"):
            raise CampaignError(f"{here} ({aid}): field 'required' must be true, false or if_mentioned")
        mentioned_by = tuple(item.get("mentioned_by") or ())
        if required == "if_mentioned" and not mentioned_by:
            raise CampaignError(f"{here} ({aid}): field 'mentioned_by' is needed when required is if_mentioned")
        rules.append(AttachmentRule(aid, _require(item, "title", here, str), required, mentioned_by,
                                    tuple(item.get("hints") or ())))
    return rules


def parse_campaign(data, path: str = "<campaign>") -> Campaign:
    """Build a Campaign from loaded YAML; raise CampaignError naming the file and the field."""
    if not isinstance(data, dict):
        raise CampaignError(f"{path}: a campaign file must be a YAML mapping")
    tz_name = str(data.get("timezone") or "Asia/Ho_Chi_Minh")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignError(f"{path}: field 'timezone' is not a known time zone: {tz_name!r}") from None
    keywords = data.get("keywords") or []
    if not isinstance(keywords, list):
        raise CampaignError(f"{path}: field 'keywords' must be a list")
    reminder_days = data.get("reminder_days", 2)
    if not isinstance(reminder_days, int) or reminder_days < 0:
        raise CampaignError(f"{path}: field 'reminder_days' must be a whole number of days")
    closed = data.get("closed", False)
    if not isinstance(closed, bool):
        raise CampaignError(f"{path}: field 'closed' must be true or false")
    signature = data.get("signature", SIGNATURE_OPTIONAL)
    if signature not in (SIGNATURE_REQUIRED, SIGNATURE_OPTIONAL):
        raise CampaignError(f"{path}: field 'signature' must be {SIGNATURE_REQUIRED} (the report must be digitally "
                            f"signed) or {SIGNATURE_OPTIONAL}, not {signature!r}")
    outline = _parse_outline(_require(data, "outline", path, list), path)
    keys = [n.key for n in outline]
    if len(set(keys)) != len(keys):
        raise CampaignError(f"{path}: field 'outline' has a key used twice")
    return Campaign(
        id=str(_require(data, "id", path, (str, int))),
        title=_require(data, "title", path, str),
        deadline=_parse_deadline(_require(data, "deadline", path, (str, datetime)), tz, path),
        timezone=tz_name,
        keywords=[str(k) for k in keywords],
        outline=outline,
        attachments=_parse_attachments(data.get("attachments"), path),
        units=_parse_units(_require(data, "units", path, (list, str)), path, Path(path).parent),
        staff=[str(s).lower() for s in data.get("staff") or []],
        reminder_days=reminder_days,
        closed=closed,
        thread_ids=[str(m).strip("<>") for m in data.get("thread_ids") or []],
        signature=signature,
        path=path,
    )


def load_campaign(path: str | os.PathLike) -> Campaign:
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = _yaml(f.read())
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CampaignError(f"{path}: not valid YAML: {exc}") from None
    return parse_campaign(data, path)


def load_campaigns(location: str | os.PathLike) -> list[Campaign]:
    """Load one campaign file, or every .yml/.yaml file of a folder (sorted)."""
    location = Path(location)
    if location.is_dir():
        files = sorted(p for p in location.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
        if not files:
            raise CampaignError(f"{location}: no campaign files (*.yml) in this folder")
    elif location.exists():
        files = [location]
    else:
        raise CampaignError(f"{location}: no such campaign file or folder")
    campaigns = [load_campaign(p) for p in files]
    ids = [c.id for c in campaigns]
    for cid in set(ids):
        if ids.count(cid) > 1:
            raise CampaignError(f"{location}: campaign id '{cid}' is used by more than one file")
    return campaigns


def unit_key(name: str) -> str:
    """Folded unit name without the party-organization prefix, so that "ĐẢNG ỦY SỞ NỘI VỤ" in a
    letterhead and "Đảng bộ Sở Nội vụ" in the campaign file meet."""
    key = fold(name)
    for prefix in ("dang uy", "dang bo", "chi uy", "chi bo", "ban chap hanh dang bo", "ban thuong vu dang uy"):
        if key.startswith(prefix + " "):
            return key[len(prefix) + 1:]
    return key
