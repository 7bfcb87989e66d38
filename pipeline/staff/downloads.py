"""Files as downloads, never shown inline: an attachment's original bytes, a mail's raw .eml (or .msg), and
the exports (Word, Excel). Content-Disposition: attachment with the exact UTF-8 name (RFC 6266 /
5987), nosniff, no caching."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

from datasette.utils.asgi import NotFound, Response

from extractors.docx_reader import OLE_MAGIC
from pipeline.mime import find_attachment

DOWNLOAD_ROUTE = "/-/tai-ve"
_UNSAFE_ASCII = re.compile(r'[^A-Za-z0-9._ ()\-]+')
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def content_disposition(filename: str) -> str:
    """attachment; with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = _UNSAFE_ASCII.sub("_", filename).strip() or "tep"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download(data: bytes, filename: str, content_type: str = "application/octet-stream") -> Response:
    return Response(data, status=200, content_type=content_type, headers={
        "content-disposition": content_disposition(filename),
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
        "content-security-policy": "default-src 'none'; sandbox",
    })


async def _check(datasette, request, database: str, table: str) -> None:
    if database not in datasette.databases:
        raise NotFound("Không tìm thấy cơ sở dữ liệu")
    await datasette.ensure_permissions(request.actor, [
        ("view-table", (database, table)), ("view-database", database), "view-instance"])


async def attachment(datasette, request) -> Response:
    """An attachment's bytes, taken again from its raw mail (the database keeps them nowhere else)."""
    database = request.url_vars["database"]
    await _check(datasette, request, database, "attachments")
    db = datasette.get_database(database)
    ident = request.args.get("id", "")
    row = (await db.execute(
        "select a.message, a.filename, a.sha256, r.raw from attachments a join raw_messages r on r.sha256 = a.message "
        "where a.id = ?", [ident])).first()
    if row is None:
        raise NotFound("Không tìm thấy tệp đính kèm")
    # Parsing the mail again is CPU work: off the event loop, as Datasette's SQL is.
    found = await asyncio.to_thread(find_attachment, row["raw"], row["message"], ident, row["sha256"])
    if found is None:  # read differently since it was derived (other limits, a newer intake): reprocess it
        raise NotFound("Tệp đính kèm không còn đọc được từ thư gốc: cần xử lý lại thư (intake reprocess)")
    return download(found.data, row["filename"] or "tep-dinh-kem")


async def raw_mail(datasette, request) -> Response:
    database = request.url_vars["database"]
    await _check(datasette, request, database, "messages")
    db = datasette.get_database(database)
    ident = request.args.get("id", "")
    row = (await db.execute("select raw from raw_messages where sha256 = ?", [ident])).first()
    if row is None:
        raise NotFound("Không tìm thấy thư")
    extension = ".msg" if row["raw"][:8] == OLE_MAGIC else ".eml"  # an Outlook .msg is stored as it came
    return download(row["raw"], f"thu-{ident[:12]}{extension}")


ROUTES = [
    (rf"^{DOWNLOAD_ROUTE}/(?P<database>[^/]+)/tep$", attachment),
    (rf"^{DOWNLOAD_ROUTE}/(?P<database>[^/]+)/thu$", raw_mail),
]
