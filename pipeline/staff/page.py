"""What every staff page does: find the database, check the visitor may see it, read it, link to
other pages and render a template with a Vietnamese 404 for what does not exist."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from datasette.utils.asgi import NotFound, Response
from jinja2 import Environment
from markupsafe import Markup

T = TypeVar("T")


def database_name(datasette) -> str:
    """The served database (intake serves one file)."""
    return next(name for name in datasette.databases if name not in ("_internal", "_memory"))


async def open_database(datasette, request):
    """The database, once the visitor may view it (login on: anonymous visitors are sent to the
    login page by the forbidden hook)."""
    name = database_name(datasette)
    await datasette.ensure_permissions(request.actor, [("view-database", name), "view-instance"])
    return datasette.get_database(name)


async def read(db, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(conn, *args)` on a read-only connection in Datasette's read thread."""
    return await db.execute_fn(lambda conn: fn(conn, *args))


def no_campaign(campaign_id: str) -> str:
    """What a page of a campaign the database does not have says (a 404)."""
    return f"Không có đợt báo cáo «{campaign_id}»"


async def found(datasette, request, fn: Callable[..., T | None], *args: Any, missing: str) -> T:
    """`fn(conn, *args)` read once the visitor may view the database; a 404 saying `missing`
    when it finds nothing (None)."""
    loaded = await read(await open_database(datasette, request), fn, *args)
    if loaded is None:
        raise NotFound(missing)
    return loaded


async def render(datasette, request, template: str, context: dict, status: int = 200) -> Response:
    return Response.html(await datasette.render_template(template, context, request=request), status=status)


_PART_ENVIRONMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _environment(datasette) -> Environment:
    env = _PART_ENVIRONMENTS.get(datasette)
    if env is None:
        env = _PART_ENVIRONMENTS[datasette] = Environment(loader=datasette.jinja_env.loader, autoescape=True)
    return env


def part(datasette, template: str, **context: Any) -> Markup:
    """A long piece of a page (300 rows, every unit's text) rendered by a synchronous Jinja over the
    same templates: Datasette's environment is asynchronous, which costs an await per expression
    and made a 300-unit campaign page take a quarter of a second to render."""
    return Markup(_environment(datasette).get_template(template).render(links=links(datasette), **context))


def macros(datasette, template: str) -> Any:
    """The macros of `template`, to call from Python (they take no context)."""
    return _environment(datasette).get_template(template).module


def links(datasette) -> Links:
    return Links(datasette, database_name(datasette))


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~:-]*")  # and ':', which quote() writes %3A


def _segment(value: str) -> str:
    """`value` as one segment of a URL path or query, as quote(value, safe="") writes it, without
    its cost for the ids most links carry ("<sha256>:2", "u001")."""
    return value.replace(":", "%3A") if _URL_SAFE.fullmatch(value) else quote(value, safe="")


class Links:
    """URLs of the staff pages, the downloads and the developer views (base_url respected)."""

    def __init__(self, datasette, database: str) -> None:
        self._base = datasette.setting("base_url")  # what datasette.urls.path prefixes, read once: a
        self.database = database                     # 300-row page makes a thousand links

    def _path(self, path: str) -> str:
        return self._base + path.lstrip("/")

    def _at(self, path: str, **args: str | None) -> str:
        query = urlencode({k: v for k, v in args.items() if v})
        return self._path(path + (f"?{query}" if query else ""))

    @property
    def home(self) -> str:
        return self._path("/")

    def campaign(self, campaign_id: str, view: str | None = None) -> str:
        return self._at(f"/-/campaign/{_segment(campaign_id)}", xem=view)

    def section(self, campaign_id: str, key: str) -> str:
        return self._path(f"/-/campaign/{_segment(campaign_id)}/section/{_segment(key)}")

    def summary(self, campaign_id: str) -> str:
        return self._path(f"/-/campaign/{_segment(campaign_id)}/summary.docx")

    def status_xlsx(self, campaign_id: str) -> str:
        return self._path(f"/-/campaign/{_segment(campaign_id)}/status.xlsx")

    def unit(self, unit_id: str) -> str:
        return self._path(f"/-/unit/{_segment(unit_id)}")

    def mail(self, mail_id: str) -> str:
        return self._path(f"/-/mail/{_segment(mail_id)}")

    def search(self, query: str | None = None, campaign_id: str | None = None, old: bool = False) -> str:
        return self._at("/-/search", q=query, dot=campaign_id, cu="1" if old else None)

    def file(self, attachment_id: str) -> str:
        """Download of an attachment's original bytes (pipeline/staff/downloads.py)."""
        return self._path(f"/-/tai-ve/{_segment(self.database)}/tep?id={_segment(attachment_id)}")

    def eml(self, mail_id: str) -> str:
        return self._path(f"/-/tai-ve/{_segment(self.database)}/thu?id={_segment(mail_id)}")

    @property
    def developer(self) -> str:
        """Datasette's own database page: tables, SQL, JSON, for the office's IT person."""
        return self._path(f"/{_segment(self.database)}")

    @property
    def charts(self) -> str:
        return self._path("/-/dashboards/tinh-hinh-nop-bao-cao")
