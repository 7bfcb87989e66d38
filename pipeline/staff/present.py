"""A unit's line as staff read it, shared by the campaign and unit pages and the exports: status in
words (the code only as a tooltip), times in the campaign's zone, how late, what is missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.staff import fmt
from pipeline.staff.data import CampaignInfo, Stray, UnitRow, flag_words, missing_words
from pipeline.staff.history import Entry
from rules.decisions import paper_decision
from rules.vocabulary import AlertKind, DecisionKind, Status

# CSS class of each status (pipeline/templates/_intake_style.html gives each its colour).
STATUS_CLASS = {Status.ON_TIME: "ok", Status.LATE: "late", Status.MISSING: "missing", Status.PENDING: "pending",
                Status.EXEMPT: "exempt"}
PAPER_REPORT = "Bản giấy (nộp trực tiếp)"  # where a paper report's file name would be
ALERT_KINDS = {k.value: k for k in AlertKind}


def status_label(code: str) -> str:
    return Status(code).label if code in STATUS_CLASS else code


@dataclass
class Line:
    """What one row of the campaign page (or the unit page, or the annex) says."""

    unit_id: str | None
    unit_name: str
    status: str  # the code, for the tooltip and the colour
    status_label: str
    status_class: str
    received: str
    late: str
    missing: list[str]
    notes: list[str]
    report: str | None
    report_file: str | None
    report_message: str | None
    sent: list[str] = field(default_factory=list)  # "Nhắc hạn 13/06/2022 08:00"
    report_paper: str = ""  # the current report is a paper copy staff recorded: in words
    decided: list[Entry] = field(default_factory=list)  # the unit's exemption, paper copy and notes in force


def unit_line(info: CampaignInfo, row: UnitRow, decided: Sequence[Entry] = ()) -> Line:
    """`decided`: the staff decisions in force about the unit (its notes join the flags' words)."""
    paper = paper_decision(row.report) is not None
    notes = flag_words(info, row.flags) + [f"Ghi chú: {e.value}" for e in decided if e.kind == DecisionKind.NOTE]
    return Line(row.unit_id, row.unit_name, row.status, status_label(row.status), STATUS_CLASS.get(row.status, ""),
                fmt.moment(row.received_at, info.tz), fmt.lateness(row.received_at, row.deadline),
                missing_words(info, row), notes, None if paper else row.report, row.report_file, row.report_message,
                [f"{ALERT_KINDS[s.kind].label if s.kind in ALERT_KINDS else s.kind} {fmt.moment(s.at, info.tz)}"
                 for s in row.sent], PAPER_REPORT if paper else "", list(decided))


def stray_line(info: CampaignInfo, stray: Stray) -> Line:
    """A report nobody could attribute: who sent it stands where the unit's name would."""
    sender = " ".join(x for x in (stray.from_name, f"<{stray.from_addr}>" if stray.from_addr else "") if x)
    on_time = stray.status == Status.ON_TIME
    return Line(None, sender or "Không rõ người gửi", stray.status, "Nhận trước hạn" if on_time else "Nhận sau hạn",
                "unknown", fmt.moment(stray.received_at, info.tz), fmt.lateness(stray.received_at, info.deadline),
                missing_words(info, stray), flag_words(info, stray.flags), stray.report, stray.report_file,
                stray.message)
