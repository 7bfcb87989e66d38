"""One vocabulary (rules/vocabulary.py): every code the code can write has a Vietnamese label, no
module writes a flag kind or status as a bare string, and metadata.yml names no code the
vocabulary does not know and no label of its own."""

from __future__ import annotations

import ast
import re

import yaml

from extractors.model import FlagKind
from pipeline.serve import metadata_for
from pipeline.store import open_db
from rules.vocabulary import (
    EXTRACTOR_FLAG_LABELS,
    FLAG_LABELS,
    TERMS,
    AlertKind,
    MailFlag,
    Status,
    StatusFlag,
    flag_label,
    late_attachment,
)
from tests.conftest import ROOT

CODE_DIRS = ("extractors", "rules", "pipeline")
# Calls whose first argument is a flag kind.
FLAG_CALLS = {"Flag", "flag", "LimitExceeded"}


def test_every_flag_kind_has_a_label():
    assert set(EXTRACTOR_FLAG_LABELS) == set(FlagKind)
    for kind in [*FlagKind, *MailFlag, *StatusFlag]:
        assert FLAG_LABELS[kind].strip(), kind
    for terms in TERMS.values():
        assert all(code and label and code != label for code, label in terms.items())


def test_flag_labels_name_the_attachment():
    titles = {"quy_che_dan_chu": "Quy chế dân chủ"}
    assert flag_label(late_attachment("quy_che_dan_chu"), titles) == "Tài liệu kèm theo gửi sau hạn: Quy chế dân chủ"
    assert flag_label("unknown_sender") == "Chưa xác định được đơn vị gửi"
    assert flag_label("a_kind_from_a_newer_release") == "a_kind_from_a_newer_release"


def _python_files():
    for folder in CODE_DIRS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_flag_kind_is_a_bare_string():
    """Flags are made with a member of FlagKind, MailFlag or StatusFlag, so every kind the code can
    emit is one the vocabulary labels."""
    bare = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name in FLAG_CALLS and isinstance(first, (ast.Constant, ast.JoinedStr)):
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bare == []


def test_no_status_or_alert_kind_is_a_bare_string_in_python():
    codes = {s.value for s in Status} | {k.value for k in AlertKind}
    bare = []
    for path in _python_files():
        if path.name == "vocabulary.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                for side in [node.left, *node.comparators]:
                    if isinstance(side, ast.Constant) and side.value in codes:
                        bare.append(f"{path.relative_to(ROOT)}:{node.lineno} {side.value}")
    assert bare == []


def _sql_of(metadata: dict) -> list[str]:
    db = next(iter(metadata["databases"].values()))
    sql = [q["sql"] for q in db["queries"].values()]
    for dashboard in metadata["plugins"]["datasette-dashboards"].values():
        sql += [c["query"] for c in dashboard["charts"].values()]
        sql += [f["query"] for f in dashboard.get("filters", {}).values() if f.get("query")]
    return sql


JSON_KEYS = {"key", "title", "id"}  # json ->> 'key' in the SQL of metadata.yml
VOCABULARY_KINDS = set(TERMS)


def test_metadata_sql_names_only_codes_the_vocabulary_knows():
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))
    codes = {code for terms in TERMS.values() for code in terms}
    labels = {label for terms in TERMS.values() for label in terms.values()}
    for sql in _sql_of(metadata):
        for literal in re.findall(r"'([^']*)'", sql):
            if re.fullmatch(r"[a-z_]+", literal):
                assert literal in codes | JSON_KEYS | VOCABULARY_KINDS, literal
            assert literal not in labels, f"label {literal!r} written in metadata.yml: use the vocabulary view"
        assert not re.search(r"\bwhen\s+'[a-z_]+'\s+then\s+'", sql), "a CASE over codes: use the vocabulary view"


def test_metadata_names_no_campaign():
    text = (ROOT / "metadata.yml").read_text(encoding="utf-8")
    campaign = yaml.safe_load((ROOT / "rules" / "nq03-2022.yml").read_text(encoding="utf-8"))
    for word in [campaign["id"], *(a["id"] for a in campaign["attachments"]), *(u["id"] for u in campaign["units"])]:
        assert word not in text, word


def test_chart_colours_are_for_the_vocabulary_statuses():
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))
    labels = [s.label for s in Status]
    found = 0
    for chart in metadata["plugins"]["datasette-dashboards"]["tinh-hinh-nop-bao-cao"]["charts"].values():
        text = yaml.safe_dump(chart.get("display") or {}, allow_unicode=True)
        for domain in re.findall(r"domain:\s*\n((?:\s*- .*\n)+)", text):
            found += 1
            assert {d.strip("- '\n") for d in domain.splitlines() if d.strip()} <= set(labels)
    assert found


def test_column_descriptions_list_the_codes_with_their_labels(tmp_path):
    metadata = metadata_for(str(tmp_path / "intake.db"))
    columns = metadata["databases"]["intake"]["tables"]["unit_status"]["columns"]
    assert columns["status"] == "Tình trạng: " + ", ".join(f"{s.value} {s.label}" for s in Status)
    origin = metadata["databases"]["intake"]["tables"]["attachments"]["columns"]["origin"]
    assert origin.startswith("Nguồn: mime Đính kèm thư")


def test_the_vocabulary_view_holds_every_term(tmp_path):
    db = open_db(str(tmp_path / "intake.db"))
    rows = {(r["kind"], r["code"]): r["label"] for r in db.query("select * from vocabulary")}
    assert rows == {(kind, code): label for kind, terms in TERMS.items() for code, label in terms.items()}
