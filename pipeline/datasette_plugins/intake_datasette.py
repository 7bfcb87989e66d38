"""intake's Datasette plugin for the developer views (tables, SQL), loaded from this folder by
`intake serve` (plugins_dir, like intake_staff.py, intake_access.py and intake_csv.py beside it).

- `fold(text)` in SQL: the same matching key as extractors.text.fold (đ → d, no diacritics), so a
  canned query can search what staff type with or without diacritics;
- download links beside attachment file names and mail subjects (pipeline/staff/downloads.py),
  statuses in words beside their codes;
- a banner on every page when served beyond loopback without being told it is fine;
- the `column_label` template filter: table and view headers show the Vietnamese label of
  metadata.yml instead of the SQL name (used by templates/_table.html).
"""

from __future__ import annotations

import json
import re

from datasette import hookimpl
from jinja2 import pass_context
from markupsafe import Markup, escape

from extractors.text import fold as _fold
from pipeline.staff.page import Links
from rules.vocabulary import Status

LINK_COLUMN_LABEL = "Liên kết"  # Datasette's own "Link" column (tables whose primary key has several columns)
_STATUSES = {s.value: s for s in Status}


def fold_sql(text: object) -> str:
    """SQL fold(): NULL and non-text give ''."""
    return _fold(text) if isinstance(text, str) and text else ""


@hookimpl
def prepare_connection(conn) -> None:
    conn.create_function("fold", 1, fold_sql, deterministic=True)


def _config(datasette) -> dict:
    return datasette.plugin_config("intake") or {}


def _plain(value: object) -> str:
    """A cell value; foreign keys arrive expanded as {"value", "label"}."""
    if isinstance(value, dict):
        value = value.get("value")
    return "" if value is None else str(value)


def _link(href: str, text: str, title: str) -> str:
    return f'<a href="{escape(href)}" download title="{escape(title)}">{escape(text)}</a>'


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Download links beside file names and mail subjects, statuses in words (the code beside
    them: facets and filters use it); everything from the mail is escaped."""
    links = Links(datasette, database)
    if (table in ("unit_status", "submissions", "unattributed_submissions") and column == "status"
            and value in _STATUSES):
        return Markup(f"{escape(_STATUSES[value].label)} <small>{escape(value)}</small>")
    if table in ("attachments", "documents") and column == "filename" and value:
        return Markup(_link(links.file(_plain(row["id"])), str(value), "Tải tệp gốc về máy"))
    if table == "messages" and column == "subject":
        link = _link(links.eml(_plain(row["id"])), "⬇ thư gốc (.eml)", "Tải thư gốc về máy")
        return Markup(f"{escape(value or '')} <small>{link}</small>")
    if table is None and column == "Mã thư" and isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        return Markup(_link(links.eml(value), f"{value[:12]}… (.eml)", "Tải thư gốc về máy"))
    return None


def label_of(description: object, name: str) -> str:
    """A column's header text: its metadata description up to the first ":", else its SQL name.

    "Tình trạng: on_time đúng hạn, ..." gives "Tình trạng"; the whole description stays the
    column's explanation (the column menu shows it).
    """
    label = str(description).split(":", 1)[0].strip() if description else ""
    return label or name


def column_label(datasette, database: str | None, table: str | None, column: dict) -> str:
    """Header text of one of Datasette's display columns on a table, view or row page.

    Looked up in the table's metadata rather than taken from `column["description"]`: Datasette
    0.65 drops the description of the primary key column when it moves it to the front.
    """
    name = column.get("name") or ""
    metadata = datasette.table_metadata(database, table) if database and table else {}
    description = (metadata.get("columns") or {}).get(name) or column.get("description")
    synthetic = not (column.get("type") or column.get("is_pk") or column.get("sortable"))
    if not description and name == "Link" and synthetic:
        return LINK_COLUMN_LABEL
    return label_of(description, name)


@hookimpl
def prepare_jinja2_environment(env, datasette):
    @pass_context
    def _column_label(context, column) -> str:
        # Plain text: autoescaping escapes it like any other value.
        return column_label(datasette, context.get("database"), context.get("table"), column)

    env.filters["column_label"] = _column_label


@hookimpl
def extra_body_script(datasette):
    host = _config(datasette).get("exposed_host")
    if not host:
        return None
    text = (f"Cảnh báo: trang này đang được phục vụ trên địa chỉ {host}; bất kỳ ai truy cập được "
            "địa chỉ này đều có thể đọc các báo cáo.")
    return ("(function(){var p=document.createElement('p');p.className='message-warning intake-exposed';"
            f"p.textContent={json.dumps(text)};"
            "var c=document.querySelector('.not-footer')||document.body;c.insertBefore(p,c.firstChild);})();")
