"""The Vietnamese texts of the alerts intake sends, as plain text and HTML.

Every function returns (subject, text, html). Everything that comes from a mail, a document or a
campaign file is escaped in the HTML; the plain text is the same words without markup.
"""

from __future__ import annotations

import html as _html
from datetime import datetime
from zoneinfo import ZoneInfo

from rules.campaign import Campaign
from rules.facts import DocumentFacts
from rules.status import UnitStatus
from rules.vocabulary import Status, flag_label

Block = str | list[str]  # a paragraph, or a bulleted list
Rendered = tuple[str, str, str]

FOOTER = "Thư này do hệ thống tổng hợp báo cáo của Văn phòng gửi tự động."
UNIT_FOOTER = FOOTER + " Đơn vị có thể trả lời thư này (kèm tệp) để gửi hoặc bổ sung báo cáo."


def when(moment: datetime, campaign: Campaign) -> str:
    """'08:40 ngày 16/6/2022' in the campaign's time zone."""
    local = moment.astimezone(ZoneInfo(campaign.timezone))
    return f"{local:%H:%M} ngày {local.day}/{local.month}/{local.year}"


def deadline_phrase(campaign: Campaign) -> str:
    """'trước ngày 15/6/2022' for a midnight deadline, else 'trước 17:00 ngày 15/6/2022'."""
    local = campaign.deadline.astimezone(ZoneInfo(campaign.timezone))
    if (local.hour, local.minute) == (0, 0):
        return f"trước ngày {local.day}/{local.month}/{local.year}"
    return f"trước {when(campaign.deadline, campaign)}"


def _section_title(campaign: Campaign, key: str) -> str:
    node = next((n for n in campaign.outline if n.key == key), None)
    return f"Mục {key}. {node.title}" if node else f"Mục {key}"


def _attachment_title(campaign: Campaign, kind: str) -> str:
    rule = next((a for a in campaign.attachments if a.id == kind), None)
    return rule.title if rule else kind


def missing_items(campaign: Campaign, status: UnitStatus) -> list[str]:
    """What the unit still has to send, in words; empty when the submission is complete."""
    if status.report:
        items = [_attachment_title(campaign, a) for a in status.missing_attachments]
    else:  # nothing to check yet: the report and every attachment it may need
        items = [f"Báo cáo {campaign.title}"]
        items += [a.title + ("" if a.required is True else " (nếu có)") for a in campaign.attachments if a.required]
    items += [f"{_section_title(campaign, s)} (trong báo cáo chưa có hoặc để trống)" for s in status.missing_sections]
    if status.missing_signature:
        items.append(f"Bản báo cáo có ký số ({flag_label(status.missing_signature).lower()})")
    return items


def _render(subject: str, greeting: str, blocks: list[Block], footer: str = UNIT_FOOTER) -> Rendered:
    text_parts, html_parts = [greeting], [f"<p>{_html.escape(greeting)}</p>"]
    for block in [*blocks, footer]:
        if isinstance(block, list):
            text_parts.append("\n".join(f"- {item}" for item in block))
            html_parts.append("<ul>" + "".join(f"<li>{_html.escape(item)}</li>" for item in block) + "</ul>")
        else:
            text_parts.append(block)
            html_parts.append(f"<p>{_html.escape(block)}</p>")
    text = "\n\n".join(text_parts) + "\n"
    body = "\n".join(html_parts)
    page = (f'<!DOCTYPE html>\n<html lang="vi">\n<head><meta charset="utf-8"><title>{_html.escape(subject)}'
            f"</title></head>\n<body>\n{body}\n</body>\n</html>\n")
    return subject, text, page


def reminder(campaign: Campaign, unit_name: str, status: UnitStatus, now: datetime) -> Rendered:
    subject = f"[Nhắc hạn] Báo cáo {campaign.title}: hạn nộp {deadline_phrase(campaign)}"
    if status.report:
        state = f"Đến {when(now, campaign)}, hồ sơ của đơn vị gửi về Văn phòng còn thiếu:"
    else:
        state = f"Đến {when(now, campaign)}, Văn phòng chưa nhận được báo cáo của đơn vị. Còn thiếu:"
    return _render(subject, f"Kính gửi {unit_name},", [
        f"Văn phòng xin nhắc: hạn gửi báo cáo {campaign.title} là {deadline_phrase(campaign)}.",
        state, missing_items(campaign, status),
        "Đề nghị đơn vị gửi đủ trước thời hạn.",
    ])


def overdue(campaign: Campaign, unit_name: str, status: UnitStatus, now: datetime) -> Rendered:
    subject = f"[Quá hạn] Chưa nhận được báo cáo {campaign.title}"
    return _render(subject, f"Kính gửi {unit_name},", [
        f"Hạn gửi báo cáo {campaign.title} là {deadline_phrase(campaign)}. Đến {when(now, campaign)}, "
        "Văn phòng chưa nhận được báo cáo của đơn vị. Còn thiếu:",
        missing_items(campaign, status),
        "Đề nghị đơn vị gửi ngay báo cáo và các tài liệu kèm theo.",
    ])


def digest(campaign: Campaign, rows: list[tuple[str, UnitStatus]], now: datetime) -> Rendered:
    """rows: (unit name, status) of every unit missing or incomplete."""
    missing = [name for name, s in rows if s.status == Status.MISSING]
    incomplete = [f"{name}: còn thiếu {'; '.join(missing_items(campaign, s))}"
                  for name, s in rows if s.status != Status.MISSING]
    subject = (f"[Tổng hợp quá hạn] {campaign.title}: {len(missing)} đơn vị chưa nộp, "
               f"{len(incomplete)} đơn vị nộp chưa đủ")
    blocks: list[Block] = [f"Hạn gửi báo cáo {campaign.title} là {deadline_phrase(campaign)}. "
                           f"Tình hình đến {when(now, campaign)}:"]
    if missing:
        blocks += [f"Đơn vị chưa nộp báo cáo ({len(missing)}):", missing]
    if incomplete:
        blocks += [f"Đơn vị đã nộp nhưng còn thiếu ({len(incomplete)}):", incomplete]
    return _render(subject, "Kính gửi Văn phòng,", blocks, FOOTER)


def late_arrival(campaign: Campaign, unit_name: str | None, sender: str | None, subject_line: str,
                 received_at: datetime, documents: list[DocumentFacts]) -> Rendered:
    who = unit_name or f"Đơn vị chưa xác định ({sender or 'không rõ người gửi'})"
    subject = f"[Nộp trễ hạn] {who}: báo cáo {campaign.title}"
    return _render(subject, "Kính gửi Văn phòng,", [
        f"{who} đã gửi báo cáo {campaign.title} lúc {when(received_at, campaign)}, sau thời hạn "
        f"({deadline_phrase(campaign)}).",
        [f"Người gửi: {sender or 'không rõ'}", f"Tiêu đề thư: {subject_line or '(không có tiêu đề)'}",
         *[f"Tệp: {d.filename}" for d in documents]],
    ], FOOTER)


def _found(campaign: Campaign, documents: list[DocumentFacts]) -> list[str]:
    items = []
    keys = campaign.outline_keys
    for d in documents:
        if d.kind == "report":
            items.append(f"Báo cáo: {d.filename}")
            present = [k for k in keys if k not in d.missing_sections]
            if present:
                items.append(f"Các mục của đề cương có trong báo cáo: {', '.join(present)}")
        elif d.kind != "other":
            items.append(f"{_attachment_title(campaign, d.kind)}: {d.filename}")
        else:
            items.append(f"Tệp không nhận ra là tài liệu của đợt báo cáo: {d.filename}")
    return items


def acknowledgement(campaign: Campaign, unit_name: str | None, subject_line: str, received_at: datetime,
                    documents: list[DocumentFacts], after: UnitStatus) -> Rendered:
    subject = f"[Đã nhận] {subject_line}" if subject_line else f"[Đã nhận] Báo cáo {campaign.title}"
    late = received_at >= campaign.deadline
    blocks: list[Block] = [
        f"Văn phòng đã nhận thư của đơn vị lúc {when(received_at, campaign)}"
        f"{' (sau thời hạn ' + deadline_phrase(campaign) + ')' if late else ''} "
        f"cho đợt báo cáo {campaign.title}. Trong thư có:",
        _found(campaign, documents) or ["Không có tệp nào đọc được."],
    ]
    if unit_name is None:
        blocks.append("Văn phòng chưa xác định được đơn vị gửi thư này; đề nghị đơn vị gửi từ địa chỉ thư "
                      "đã đăng ký hoặc ghi rõ tên đơn vị.")
    missing = missing_items(campaign, after)
    if missing:
        blocks += ["Hồ sơ của đơn vị còn thiếu:", missing,
                   "Đề nghị đơn vị bổ sung sớm, có thể ngay trong ngày, bằng cách trả lời thư này kèm tệp."]
    else:
        blocks.append("Hồ sơ của đơn vị đã đủ theo yêu cầu. Xin cảm ơn.")
    return _render(subject, f"Kính gửi {unit_name or 'đơn vị'},", blocks)
