"""The campaign page's rows, one per unit of the roster, written here rather than in Jinja: a
300-unit round is 300 rows of some forty expressions each, and Jinja's cost per expression (an
attribute lookup, a call, an escape: 20 ms a page) was most of the page's time. The table's head and
the rest of the page are in pipeline/templates/_intake_roster.html and staff_campaign.html; the
decision form's parts come from _intake_decide.html, rendered once per page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from markupsafe import Markup, escape

from pipeline.staff.corrections import Forms
from pipeline.staff.page import Links
from pipeline.staff.present import Line

DOWNLOAD = 'download title="Tải tệp gốc về máy"'
NONE_LISTED = '<tr><td colspan="7">Không có đơn vị nào trong danh sách này.</td></tr>'


def _items(items: Sequence[str]) -> str:
    return f"<ul>{''.join(f'<li>{escape(item)}</li>' for item in items)}</ul>" if items else ""


def _report(line: Line, links: Links) -> str:
    out = [f'<a href="{escape(links.file(line.report))}" {DOWNLOAD}>{escape(line.report_file or "tệp báo cáo")}</a>'
           if line.report else escape(line.report_paper)]
    out += [f'<br><small>cùng nội dung: <a href="{escape(links.file(id_))}" {DOWNLOAD}>{escape(name)}</a></small>'
            for id_, name in line.copies]
    out += [f'<br><small class="signature {escape(s.state)}" title="{escape(s.text)}">{escape(s.short)}</small>'
            for s in line.signatures]
    if line.report_message:
        out.append(f'<br><small><a href="{escape(links.mail(line.report_message))}">xem thư</a></small>')
    return "".join(out)


_TARGET = "\x00unit\x00"  # where a blank form names its unit


def unit_forms(macros: Any, decide: Forms, campaign_id: str) -> Callable[[Line], Markup]:
    """Each line's decision form, from _intake_decide.html's `unit_form` (`macros`: that template's
    module): rendered once blank, its unit filled in per line; a line with decisions in force
    (they are listed in the form) gets its own."""
    if not decide.allowed:
        return lambda line: Markup()
    same = (macros.shared(decide, campaign_id), macros.unit_fields())
    before, after = Markup(macros.unit_form(decide, campaign_id, _TARGET, [], same)).split(_TARGET)

    def form(line: Line) -> Markup:
        if line.decided:
            return Markup(macros.unit_form(decide, campaign_id, line.unit_id, line.decided, same))
        return before + escape(line.unit_id or "") + after
    return form


def rows(lines: Sequence[Line], links: Links, form: Callable[[Line], Markup]) -> Markup:
    """The <tr> of each line; `form(line)`: its decision form, empty for those who may not decide."""
    out = []
    for line in lines:
        late = f"<br><small>{escape(line.late)}</small>" if line.late else ""
        unit = escape(line.unit_id or "")
        out.append(
            f'<tr data-unit="{unit}">'
            f'<td><a href="{escape(links.unit(line.unit_id or ""))}">{escape(line.unit_name)}</a>{form(line)}</td>'
            f'<td><span class="status {escape(line.status_class)}" title="Mã: {escape(line.status)}">'
            f'{escape(line.status_label)}</span>{late}</td>'
            f"<td>{escape(line.received)}</td><td>{_items(line.missing)}</td><td>{_items(line.notes)}</td>"
            f"<td>{_report(line, links)}</td><td>{_items(line.sent)}</td></tr>")
    return Markup("\n".join(out) or NONE_LISTED)
