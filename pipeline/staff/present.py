"""A unit's line as staff read it, shared by the campaign and unit pages and the exports: status in
words (the code only as a tooltip), times in the campaign's zone, how late, what is missing; and a
digital signature's line, "Ký số: Nguyễn Văn A (Sở Tài chính), 14/06/2022 09:12, còn nguyên vẹn"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

from pipeline.staff import fmt
from pipeline.staff.data import CampaignInfo, SignatureRow, Stray, UnitRow, flag_words, missing_words
from pipeline.staff.history import Entry
from rules.decisions import paper_decision
from rules.vocabulary import AlertKind, CertificateCheck, DecisionKind, SignatureState, Status

# CSS class of each status (pipeline/templates/_intake_style.html gives each its colour).
STATUS_CLASS: dict[str, str] = {Status.ON_TIME: "ok", Status.LATE: "late", Status.MISSING: "missing",
                                 Status.PENDING: "pending", Status.EXEMPT: "exempt"}
PAPER_REPORT = "Bản giấy (nộp trực tiếp)"  # where a paper report's file name would be
ALERT_KINDS = {k.value: k for k in AlertKind}


def status_label(code: str) -> str:
    return Status(code).label if code in STATUS_CLASS else code  # type: ignore[call-arg]  # a lookup by value, not Term.__new__(code, label)


@dataclass
class SignatureLine:
    text: str  # the whole line (mail and unit pages)
    short: str  # without the organization and what holds for every signature alike (the campaign page)
    state: str  # a SignatureState code (the line's colour), "" when unknown


_STATES = {s.value: s for s in SignatureState}


def signature_line(signature: SignatureRow, tz: tzinfo) -> SignatureLine:
    """Who signed (and for which body), when, whether the file is as signed, what is known of the certificate."""
    who = signature.signer or "không rõ người ký"
    body = f" ({signature.organization})" if signature.organization else ""
    state = _STATES.get(signature.state or "")
    facts = [fact for fact in (fmt.moment(signature.signed_at, tz), state.label if state else "") if fact]
    checks = _certificate(signature, state)
    warnings = [c for c in checks if c not in (CertificateCheck.NOT_CHECKED, CertificateCheck.TRUSTED)]
    return SignatureLine(", ".join([f"Ký số: {who}{body}", *facts, *(c.label for c in checks)]),
                         ", ".join([f"Ký số: {who}", *facts, *(c.label for c in warnings)]),
                         state.value if state else "")


def _certificate(signature: SignatureRow, state: SignatureState | None) -> list[CertificateCheck]:
    checks = []
    if state is not SignatureState.UNVERIFIED:  # verified: its chain is judged, or said not to be
        checks.append(CertificateCheck.NOT_CHECKED if signature.trusted is None else
                      CertificateCheck.TRUSTED if signature.trusted else CertificateCheck.UNTRUSTED)
    if signature.valid_at_signing is False:
        checks.append(CertificateCheck.NOT_VALID_AT_SIGNING)
    if signature.revocation == CertificateCheck.REVOKED:
        checks.append(CertificateCheck.REVOKED)
    return checks


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
    signatures: list[SignatureLine] = field(default_factory=list)  # of the report (its signed PDF's)
    copies: list[tuple[str, str]] = field(default_factory=list)  # (id, filename): the report's other files
    report_paper: str = ""  # the current report is a paper copy staff recorded: in words
    decided: list[Entry] = field(default_factory=list)  # the unit's exemption, paper copy and notes in force


def unit_line(info: CampaignInfo, row: UnitRow, decided: Sequence[Entry] = ()) -> Line:
    """`decided`: the staff decisions in force about the unit (its notes join the flags' words)."""
    paper = paper_decision(row.report) is not None
    notes = flag_words(info, row.flags, row.missing_signature) + [
        f"Ghi chú: {e.value}" for e in decided if e.kind == DecisionKind.NOTE]
    return Line(row.unit_id, row.unit_name, row.status, status_label(row.status), STATUS_CLASS.get(row.status, ""),
                fmt.moment(row.received_at, info.tz), fmt.lateness(row.received_at, row.deadline),
                missing_words(info, row), notes, None if paper else row.report, row.report_file, row.report_message,
                [f"{ALERT_KINDS[s.kind].label if s.kind in ALERT_KINDS else s.kind} {fmt.moment(s.at, info.tz)}"
                 for s in row.sent], signatures=[signature_line(s, info.tz) for s in row.report_signatures],
                copies=row.report_copies, report_paper=PAPER_REPORT if paper else "", decided=list(decided))


def stray_line(info: CampaignInfo, stray: Stray) -> Line:
    """A report nobody could attribute: who sent it stands where the unit's name would."""
    sender = " ".join(x for x in (stray.from_name, f"<{stray.from_addr}>" if stray.from_addr else "") if x)
    on_time = stray.status == Status.ON_TIME
    return Line(None, sender or "Không rõ người gửi", stray.status, "Nhận trước hạn" if on_time else "Nhận sau hạn",
                "unknown", fmt.moment(stray.received_at, info.tz), fmt.lateness(stray.received_at, info.deadline),
                missing_words(info, stray), flag_words(info, stray.flags, stray.missing_signature), stray.report,
                stray.report_file, stray.message)
