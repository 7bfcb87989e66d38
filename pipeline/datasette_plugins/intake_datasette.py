"""intake's Datasette plugin: loaded from this folder by `intake serve` (plugins_dir).

- `fold(text)` in SQL: the same matching key as extractors.text.fold (đ → d, no diacritics), so a
  canned query can search what staff type with or without diacritics;
- downloads of an attachment's original bytes and of a mail's raw .eml, always as a download
  (Content-Disposition: attachment, nosniff), linked from the attachment and message rows;
- a banner on every page when served beyond loopback without being told it is fine;
- anonymous visitors of a password-protected instance are sent to the login page;
- the `column_label` template filter: table and view headers show the Vietnamese label of
  metadata.yml instead of the SQL name (used by templates/_table.html).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response
from jinja2 import pass_context
from markupsafe import Markup, escape

from extractors.text import fold as _fold

DOWNLOAD_ROUTE = "/-/tai-ve"
LINK_COLUMN_LABEL = "Liên kết"  # Datasette's own "Link" column (tables whose primary key has several columns)
_UNSAFE_ASCII = re.compile(r'[^A-Za-z0-9._ ()\-]+')


def fold_sql(text: object) -> str:
    """SQL fold(): NULL and non-text give ''."""
    return _fold(text) if isinstance(text, str) and text else ""


@hookimpl
def prepare_connection(conn) -> None:
    conn.create_function("fold", 1, fold_sql, deterministic=True)


def _config(datasette) -> dict:
    return datasette.plugin_config("intake") or {}


def download_url(datasette, database: str, what: str, ident: str) -> str:
    """URL of the download route: what is "tep" (an attachment id) or "thu" (a message sha256)."""
    return datasette.urls.path(f"{DOWNLOAD_ROUTE}/{quote(database, safe='')}/{what}?{urlencode({'id': ident})}")


def content_disposition(filename: str) -> str:
    """attachment; with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = _UNSAFE_ASCII.sub("_", filename).strip() or "tep"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _download(data: bytes, filename: str) -> Response:
    return Response(data, status=200, content_type="application/octet-stream", headers={
        "content-disposition": content_disposition(filename),
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
        "content-security-policy": "default-src 'none'; sandbox",
    })


async def _check(datasette, request, database: str, table: str) -> None:
    await datasette.ensure_permissions(request.actor, [
        ("view-table", (database, table)), ("view-database", database), "view-instance"])


async def download_attachment(datasette, request) -> Response:
    database = request.url_vars["database"]
    await _check(datasette, request, database, "attachments")
    db = datasette.get_database(database)
    row = (await db.execute(
        "select a.filename, b.content from attachments a join blobs b on b.sha256 = a.sha256 where a.id = ?",
        [request.args.get("id", "")])).first()
    if row is None:
        raise NotFound("Không tìm thấy tệp đính kèm")
    return _download(row["content"], row["filename"] or "tep-dinh-kem")


async def download_message(datasette, request) -> Response:
    database = request.url_vars["database"]
    await _check(datasette, request, database, "messages")
    db = datasette.get_database(database)
    ident = request.args.get("id", "")
    row = (await db.execute("select raw from raw_messages where sha256 = ?", [ident])).first()
    if row is None:
        raise NotFound("Không tìm thấy thư")
    return _download(row["raw"], f"thu-{ident[:12]}.eml")


@hookimpl
def register_routes():
    return [
        (rf"^{DOWNLOAD_ROUTE}/(?P<database>[^/]+)/tep$", download_attachment),
        (rf"^{DOWNLOAD_ROUTE}/(?P<database>[^/]+)/thu$", download_message),
    ]


def _plain(value: object) -> str:
    """A cell value; foreign keys arrive expanded as {"value", "label"}."""
    if isinstance(value, dict):
        value = value.get("value")
    return "" if value is None else str(value)


def _link(href: str, text: str, title: str) -> str:
    return f'<a href="{escape(href)}" download title="{escape(title)}">{escape(text)}</a>'


# How staff say each status; the code stays beside it, since facets and filters use it.
STATUS_LABELS = {"on_time": "Đúng hạn", "late": "Trễ hạn", "missing": "Chưa nộp (quá hạn)",
                 "pending": "Chưa nộp (còn hạn)"}


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """Download links beside file names and mail subjects, statuses in words; everything from the
    mail is escaped."""
    if table in ("unit_status", "submissions") and column == "status" and value in STATUS_LABELS:
        return Markup(f"{escape(STATUS_LABELS[value])} <small>{escape(value)}</small>")
    if table in ("attachments", "documents") and column == "filename" and value:
        return Markup(_link(download_url(datasette, database, "tep", _plain(row["id"])), str(value),
                            "Tải tệp gốc về máy"))
    if table == "messages" and column == "subject":
        link = _link(download_url(datasette, database, "thu", _plain(row["id"])), "⬇ thư gốc (.eml)",
                     "Tải thư gốc về máy")
        return Markup(f"{escape(value or '')} <small>{link}</small>")
    if table is None and column == "Mã thư" and isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        return Markup(_link(download_url(datasette, database, "thu", value), f"{value[:12]}… (.eml)",
                            "Tải thư gốc về máy"))
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


@hookimpl
def forbidden(datasette, request, message):
    """Anonymous visitors of a protected page go to the login form; API clients keep the 403."""
    if request.actor or not _config(datasette).get("login_required"):
        return None
    if request.path.endswith(".json") or request.method != "GET":
        return None
    return Response.redirect(datasette.urls.path("/-/login"))
