"""Staff decisions made on the pages: what the forms need (may this visitor decide, the CSRF token,
where to post) and `POST /-/decide`, the one route of `intake serve` that writes, through
pipeline/decide.py on a connection of its own (Datasette's stay read-only).

A write is a POST carrying Datasette's CSRF token, from a logged-in staff member, or, with no login
configured, from loopback only. asgi-csrf compares the token with the ds_csrftoken cookie, but lets
a POST with no cookies at all through (a cross-site form sends none): such a POST is refused here,
and asgi-csrf's English refusal is replaced by a Vietnamese page.
Afterwards the visitor is back on the page the form was on, with a message saying what was recorded
(or, in Vietnamese, why nothing was).
"""

from __future__ import annotations

import asyncio
import getpass
from dataclasses import dataclass

import asgi_csrf
from datasette.utils.asgi import Forbidden, Response

from pipeline.datasette_plugins.intake_access import error_page, login_required, safe_next
from pipeline.decide import Ask, DecisionError, record
from pipeline.settings import default_rules
from pipeline.staff import fmt
from pipeline.staff.page import database_name
from pipeline.tls import is_loopback
from rules.campaign import CampaignError
from rules.vocabulary import TERMS, DecisionKind

DECIDE_PATH = "/-/decide"
CSRF_COOKIE = "ds_csrftoken"  # Datasette's name for asgi-csrf's cookie
CSRF_FAILED = (  # any form's: a decision's, the login's, the logout's
    "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Biểu mẫu đã hết hạn</title></head>"
    "<body><h1>Chưa làm được: biểu mẫu đã hết hạn</h1><p>Trang đã mở quá lâu hoặc phần mềm vừa khởi động lại, "
    "nên biểu mẫu không còn hợp lệ và chưa có gì được ghi lại. Hãy quay lại, tải lại trang rồi làm lại.</p>"
    "</body></html>")


@dataclass
class Forms:
    """What a page's decision forms need."""

    allowed: bool  # this visitor may decide: the forms are shown
    token: str  # Datasette's CSRF token, for a hidden field
    action: str
    next: str  # the page to come back to


def may_decide(datasette, request) -> bool:
    """Logged-in staff when login is on; else only a visitor on this machine."""
    if login_required(datasette):
        return request.actor is not None
    client = request.scope.get("client") or ("", 0)
    return is_loopback(str(client[0]))


def forms(datasette, request) -> Forms:
    allowed = may_decide(datasette, request)
    token = request.scope["csrftoken"]() if allowed else ""  # calling it sets the cookie the POST needs
    return Forms(allowed, token, datasette.urls.path(DECIDE_PATH), request.full_path)


def _by(request) -> str:
    """Who decided: the logged-in actor's name, else (no login, loopback) whoever runs intake serve."""
    actor = request.actor or {}
    return str(actor.get("name") or actor.get("id") or getpass.getuser())


def ask_of(form: dict) -> Ask:
    """The decision a form asks for. Every form posts `kind` (its button), `target` and `campaign`;
    `value` is the unit picked, the file's kind or the paper copy's date and time as staff type it
    (14/06/2022 09:30); `note` is why, or, for a note, the note itself."""
    kind, note = form.get("kind", ""), (form.get("note") or "").strip() or None
    value = (form.get("value") or "").strip() or None
    if kind == DecisionKind.NOTE:
        value, note = note, None
    elif kind == DecisionKind.PAPER and value:
        moment = fmt.typed(value)
        value = moment.isoformat() if moment else value
    return Ask(kind, form.get("target", ""), value, form.get("campaign") or None, note,
               remember=form.get("remember") == "1")


async def post(datasette, request):
    if request.method != "POST":
        return await error_page(datasette, request, 405)
    if not may_decide(datasette, request):
        raise Forbidden("only logged-in staff (without a login: this machine) may record decisions")
    form = await request.post_vars()
    if not request.cookies.get(CSRF_COOKIE) or form.get("csrftoken") != request.cookies[CSRF_COOKIE]:
        raise Forbidden("the form carries no valid CSRF token")
    database = datasette.get_database(database_name(datasette))
    rules = (datasette.plugin_config("intake") or {}).get("rules") or default_rules()
    ask = ask_of(form)
    try:
        made = await asyncio.to_thread(record, database.path, rules, ask, _by(request))
    except DecisionError as exc:
        datasette.add_message(request, f"Chưa ghi nhận: {exc.words}.", datasette.ERROR)
    except CampaignError as exc:
        datasette.add_message(request, "Chưa ghi nhận: tệp mô tả đợt báo cáo đang có lỗi, báo cho bộ phận kỹ thuật.",
                              datasette.ERROR)
        datasette.add_message(request, str(exc), datasette.ERROR)
    else:
        datasette.add_message(request, f"Đã ghi nhận điều chỉnh số {made.id}: {TERMS['decision'][made.kind]}.",
                              datasette.INFO)
    return Response.redirect(datasette.urls.path(safe_next(form.get("next"))))


def csrf_failure_in_vietnamese(app):
    """asgi-csrf answers a bad or missing token with an English line ("form-urlencoded POST field did
    not match cookie"): staff read this page instead."""
    english = {m.encode("utf-8") for m in asgi_csrf.error_messages.values()} | {b"CSRF validation failed"}

    async def wrapped(scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await app(scope, receive, send)
        held: dict = {}

        async def checked_send(message):
            if message["type"] == "http.response.start" and message["status"] == 403:
                held["start"] = message  # wait for the body: is it asgi-csrf's?
                return
            if message["type"] == "http.response.body" and "start" in held:
                start = held.pop("start")
                if message.get("body", b"") in english and not message.get("more_body"):
                    body = CSRF_FAILED.encode("utf-8")
                    start = {**start, "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                                  (b"content-length", str(len(body)).encode())]}
                    message = {"type": "http.response.body", "body": body}
                await send(start)
            await send(message)

        await app(scope, receive, checked_send)
    return wrapped
