"""The campaign's files for Word and Excel:

- `summary.docx`: the working draft of the summary report (báo cáo tổng hợp): for each outline
  section, its title as the heading, then every unit's text under the unit's name in roster order
  ("(không có nội dung)" where a unit has none), then an annex table of every unit's status,
  received time and what is missing. A heading whose text lives in its subsections for every unit
  ("I", "II") carries no per-unit lines of its own.
- `status.xlsx`: the campaign page's table with Vietnamese headers and real date cells, and the
  reports nobody could attribute on a second sheet.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from xml.sax.saxutils import escape as xml_escape

from pipeline.staff import data, fmt, present
from pipeline.staff.downloads import DOCX_TYPE, XLSX_TYPE, download
from pipeline.staff.page import found, no_campaign

NO_TEXT = "(không có nội dung)"
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML cannot hold


def _load(conn, campaign_id: str):
    info = data.campaign(conn, campaign_id)
    if info is None:
        return None
    return info, data.roster(conn, campaign_id), data.section(conn, campaign_id, None), \
        data.unattributed(conn, campaign_id)


def _level(key: str) -> int:
    return key.count(".") + 1


class _Body:
    """The document's body, written as WordprocessingML and parsed once at the end.

    python-docx's add_paragraph and add_row look through all of the body's children for where to
    insert, and add_run copies text one character at a time: for a 300-unit summary (thousands of
    long paragraphs) that took seconds. The XML is what python-docx writes (styles by their ids in
    its default template: Title, Heading1-3, TableGrid)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    @staticmethod
    def _run(text: str, bold: bool = False) -> str:
        text = xml_escape(_NOT_XML.sub("", text.replace("\t", " ")))
        return f'<w:r>{"<w:rPr><w:b/></w:rPr>" if bold else ""}<w:t xml:space="preserve">{text}</w:t></w:r>'

    def paragraph(self, text: str, bold: bool = False, style: str | None = None) -> None:
        props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        self.parts.append(f"<w:p>{props}{self._run(text, bold)}</w:p>")

    def page_break(self) -> None:
        self.parts.append('<w:p><w:r><w:br w:type="page"/></w:r></w:p>')

    def table(self, rows: list[list[str]]) -> None:
        """A table with borders ("Table Grid"), its first row in bold."""
        cells = "".join(
            "<w:tr>" + "".join(f"<w:tc><w:p>{self._run(value, bold=n == 0)}</w:p></w:tc>" for value in row) + "</w:tr>"
            for n, row in enumerate(rows))
        grid = "<w:gridCol/>" * len(rows[0])
        self.parts.append('<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="0" w:type="auto"/>'
                          f"</w:tblPr><w:tblGrid>{grid}</w:tblGrid>{cells}</w:tbl>")

    def write_into(self, doc) -> None:
        from docx.oxml import parse_xml
        from docx.oxml.ns import nsdecls

        end = doc.element.body.sectPr
        for element in list(parse_xml(f'<w:body {nsdecls("w")}>{"".join(self.parts)}</w:body>')):
            end.addprevious(element)


def summary_docx(info: data.CampaignInfo, rows: list[data.UnitRow], sections: list[data.UnitSection],
                 now: datetime) -> bytes:
    from docx import Document
    from docx.shared import Pt

    texts = {u.unit_id: {p.key: p.text for p in u.parts} for u in sections}
    doc = Document()
    doc.styles["Normal"].font.name = "Times New Roman"
    doc.styles["Normal"].font.size = Pt(13)
    body = _Body()
    body.paragraph(f"Báo cáo tổng hợp: {info.title}", style="Title")
    body.paragraph(f"Bản nháp tổng hợp từ báo cáo của {len(rows)} đơn vị, lập lúc {fmt.moment(now, info.tz)}. "
                   f"Hạn nộp: {fmt.deadline(info.deadline, info.tz)}.")
    for node in info.outline:
        key = node["key"]
        body.paragraph(f"{key}. {node['title']}", style=f"Heading{min(_level(key), 3)}")
        has_children = any(n["key"].startswith(key + ".") for n in info.outline)
        if has_children and not any(texts.get(r.unit_id, {}).get(key, "").strip() for r in rows):
            continue  # the units wrote under the subsections
        for row in rows:
            body.paragraph(row.unit_name, bold=True)
            text = texts.get(row.unit_id, {}).get(key, "").strip()
            for paragraph in (text.split("\n") if text else [NO_TEXT]):
                if paragraph.strip():
                    body.paragraph(paragraph.strip())
    body.page_break()
    body.paragraph("Phụ lục: Tình hình nộp báo cáo của các đơn vị", style="Heading1")
    annex = [["STT", "Đơn vị", "Tình trạng", "Thời điểm nhận", "Còn thiếu"]]
    for n, row in enumerate(rows, 1):
        line = present.unit_line(info, row)
        received = " ".join(x for x in (line.received, f"({line.late})" if line.late else "") if x)
        annex.append([str(n), line.unit_name, line.status_label, received, "; ".join(line.missing)])
    body.table(annex)
    body.write_into(doc)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


XLSX_HEADERS = ("STT", "Đơn vị", "Mã đơn vị", "Tình trạng", "Thời điểm nhận", "Trễ hạn", "Còn thiếu", "Lưu ý",
                "Tệp báo cáo", "Thư nhắc, thông báo đã gửi")
STRAY_HEADERS = ("STT", "Người gửi", "Tình trạng", "Thời điểm nhận", "Còn thiếu", "Lưu ý", "Tệp báo cáo")
DATE_FORMAT = "dd/mm/yyyy hh:mm"


def _sheet(sheet, headers, lines: list[list], date_column: int, widths: list[int]) -> None:
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in lines:
        sheet.append(values)
    for cells in sheet.iter_rows(min_row=2):
        cells[date_column].number_format = DATE_FORMAT
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions


def status_xlsx(info: data.CampaignInfo, rows: list[data.UnitRow], strays: list[data.Stray]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.worksheets[0]  # the one a new workbook has (its active sheet)
    sheet.title = "Tình trạng"
    lines = []
    for n, row in enumerate(rows, 1):
        line = present.unit_line(info, row)
        lines.append([n, line.unit_name, line.unit_id, line.status_label, fmt.local(row.received_at, info.tz),
                      line.late, "\n".join(line.missing), "\n".join(line.notes), line.report_file or line.report_paper,
                      "\n".join(line.sent)])
    _sheet(sheet, XLSX_HEADERS, lines, 4, [6, 36, 18, 20, 18, 18, 40, 36, 36, 30])
    other = book.create_sheet("Chưa xác định đơn vị")
    lines = []
    for n, stray in enumerate(strays, 1):
        line = present.stray_line(info, stray)
        lines.append([n, line.unit_name, line.status_label, fmt.local(stray.received_at, info.tz),
                      "\n".join(line.missing), "\n".join(line.notes), line.report_file or ""])
    _sheet(other, STRAY_HEADERS, lines, 3, [6, 40, 18, 18, 40, 36, 36])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _campaign(datasette, request):
    campaign_id = request.url_vars["campaign"]
    return await found(datasette, request, _load, campaign_id, missing=no_campaign(campaign_id))


async def summary_view(datasette, request):
    info, rows, sections, _ = await _campaign(datasette, request)
    now = datetime.now(timezone.utc)
    return download(summary_docx(info, rows, sections, now), f"Báo cáo tổng hợp {info.id}.docx", DOCX_TYPE)


async def status_view(datasette, request):
    info, rows, _, strays = await _campaign(datasette, request)
    return download(status_xlsx(info, rows, strays), f"Tình trạng nộp báo cáo {info.id}.xlsx", XLSX_TYPE)
