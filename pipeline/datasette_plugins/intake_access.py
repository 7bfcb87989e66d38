"""Who gets in, and what they see when something is wrong (loaded by `intake serve`, plugins_dir).

- anonymous visitors of a password-protected instance are sent to the login page, and back to the
  page they asked for once logged in (`next`, local paths only);
- with no password hash set, the login page says no login is needed (no error, no form);
- the password tool of datasette-auth-passwords is behind the login when login is on;
- 403, 404, 405 and 500 pages in Vietnamese (the technical message folded away for the IT person);
  JSON clients get Datasette's JSON errors;
- a request Datasette cannot answer because of what it asks for (an unknown column to sort by, a
  malformed URL) is a 400 or a 404, never a 500; every error is one line of the log (5xx as
  errors, the others at info), never a traceback with local variables. This plugin answers every
  exception alone: Datasette 0.65's own handler prints rich's traceback with locals, and outside
  an except block (an unknown URL of five path segments) fails itself with a 500.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import Base400, Forbidden, Request, Response
from datasette.views.base import DatasetteError

log = logging.getLogger("intake.serve")

LOGIN_PATH = "/-/login"
OURS = "x-intake-answer"  # marks this plugin's error answers, for asgi_wrapper; never sent out
ERRORS = {
    400: ("Yêu cầu không hợp lệ", "Địa chỉ trang có chỗ không đúng. Hãy quay lại trang chủ và chọn lại."),
    403: ("Không có quyền xem trang này", "Tài khoản đang dùng không được xem trang này."),
    404: ("Không tìm thấy trang", "Trang hoặc mục cần xem không có (có thể địa chỉ đã gõ sai, hoặc "
                                  "đợt báo cáo, đơn vị đó không có trong dữ liệu)."),
    405: ("Không thực hiện được thao tác này", "Trang này chỉ để xem: không gửi hay thay đổi dữ liệu qua nó "
                                               "được. Hãy quay lại trang chủ và chọn lại."),
    500: ("Đã có lỗi", "Trang này chưa hiện được do một lỗi của phần mềm. Hãy thử lại sau ít phút; nếu vẫn "
                       "lỗi, báo cho bộ phận kỹ thuật (chi tiết đã được ghi lại)."),
}


def login_required(datasette) -> bool:
    return bool((datasette.plugin_config("intake") or {}).get("login_required"))


def _wants_json(request) -> bool:
    return request.path.endswith(".json") or "application/json" in request.headers.get("accept", "")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a local path only (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def error_page(datasette, request, status: int, detail: str = "") -> Response:
    title, text = ERRORS.get(status, ERRORS[500 if status >= 500 else 400])
    return Response.html(await datasette.render_template(
        "intake_error.html", {"status": status, "error_title": title, "error_text": text, "detail": detail},
        request=request), status=status, headers={OURS: "1"})


def json_error(status: int, message: str, title: str | None = None) -> Response:
    """Datasette's JSON error, as its own handler writes it."""
    return Response.json({"ok": False, "error": message, "status": status, "title": title}, status=status,
                         headers={OURS: "1"})


@hookimpl
def forbidden(datasette, request, message):
    if _wants_json(request):
        return None
    if not request.actor and login_required(datasette) and request.method == "GET":
        return Response.redirect(datasette.urls.path(LOGIN_PATH) + "?" + urlencode({"next": request.full_path}))

    async def inner():
        return await error_page(datasette, request, 403, message)
    return inner


def _status(exception: BaseException) -> tuple[int, str, str | None]:
    """(status, message, title) of the answer to `exception`."""
    if isinstance(exception, Base400):
        return exception.status, str(exception.args[0]) if exception.args else "", None
    if isinstance(exception, DatasetteError):
        # Datasette raises these for a request it cannot answer as asked (a column to sort or
        # select that the table lacks, a bad _through): the client's mistake, whatever status
        # they carry; the server's own failures come as other exceptions.
        return min(exception.status, 400), str(exception.message), exception.title
    return 500, f"{type(exception).__name__}: {exception}", None


def _where(exception: BaseException) -> str:
    """The innermost frame of a traceback, "file:line", for the one log line of a 500."""
    frames = traceback.extract_tb(exception.__traceback__) if exception.__traceback__ else []
    return f" at {frames[-1].filename.rsplit('site-packages/', 1)[-1]}:{frames[-1].lineno}" if frames else ""


async def answer_exception(datasette, request, exception: BaseException) -> Response:
    status, message, title = _status(exception)
    line = f"{status} {request.method} {request.path}: {message}"
    if status >= 500:
        log.error("%s%s", line, _where(exception))
    elif not isinstance(exception.__context__, sqlite3.Error):  # Datasette wrote its own line for those
        log.info("%s", line)
    if _wants_json(request):
        return json_error(status, message, title)
    return await error_page(datasette, request, status, message if status < 500 else "")


@hookimpl(hookwrapper=True)
def handle_exception(datasette, request, exception):
    """Ours is the only answer: the others' (Datasette's own among them) are dropped unrun."""
    outcome = yield

    async def inner():
        return await answer_exception(datasette, request, exception)
    outcome.force_result([inner])


@hookimpl
def asgi_wrapper(datasette):
    """The 404 and 405 answers Datasette writes outside its exception handler (a static file not
    found: "404: File not found"; a method a page does not take: a bare "Method not allowed")
    become the Vietnamese page too, or Datasette's JSON error."""

    def vietnamese_errors(app):
        async def wrapped(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            replaced = False

            async def send_ours(message):
                nonlocal replaced
                if message["type"] == "http.response.start":
                    headers = message.get("headers") or []
                    if any(k == OURS.encode() for k, _ in headers):
                        message = dict(message, headers=[(k, v) for k, v in headers if k != OURS.encode()])
                    elif message["status"] in (404, 405):
                        replaced = True
                        await _answer_plain(datasette, scope, receive, message["status"], send)
                        return
                if not replaced:
                    await send(message)

            await app(scope, receive, send_ours)
        return wrapped
    return vietnamese_errors


async def _answer_plain(datasette, scope, receive, status: int, send) -> None:
    # Outside Datasette's router: no actor, so the page has no form needing a CSRF token.
    request = Request(dict(scope, csrftoken=lambda: ""), receive)
    log.info("%s %s %s", status, request.method, request.path)
    message = "Method not allowed" if status == 405 else "Not found"
    response = json_error(status, message) if _wants_json(request) else await error_page(datasette, request, status)
    response.headers.pop(OURS, None)
    await response.asgi_send(send)


async def login(datasette, request) -> Response:
    """datasette-auth-passwords' login, then back to the page the visitor asked for."""
    from datasette_auth_passwords import password_login

    response = await password_login(request, datasette)
    cookies = response._set_cookie_headers  # noqa: SLF001 - Datasette's Response has no public view of its cookies
    if response.status == 302 and any(c.startswith("ds_actor=") for c in cookies):
        response.headers["Location"] = datasette.urls.path(safe_next(request.args.get("next")))
    return response


async def password_tool(datasette, request) -> Response:
    """datasette-auth-passwords' hash maker, for logged-in staff only when login is on."""
    from datasette_auth_passwords import password_tool as tool

    if login_required(datasette) and not request.actor:
        raise Forbidden("the password tool needs a login")
    return await tool(request, datasette)


@hookimpl
def register_routes():
    # Plugins of plugins_dir answer before installed ones, so these paths are ours.
    return [(rf"^{LOGIN_PATH}$", login), (r"^/-/password-tool$", password_tool)]


@hookimpl
def extra_template_vars(datasette):
    return {"login_required": login_required(datasette)}
