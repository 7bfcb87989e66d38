"""Who gets in, and what they see when something is wrong (loaded by `intake serve`, plugins_dir).

- anonymous visitors of a password-protected instance are sent to the login page, and back to the
  page they asked for once logged in (`next`, local paths only);
- with no password hash set, the login page says no login is needed (no error, no form);
- the password tool of datasette-auth-passwords is behind the login when login is on;
- 403, 404 and 500 pages in Vietnamese (the technical message folded away for the IT person; a
  500's traceback goes to the log, never to the page); JSON clients keep Datasette's JSON errors.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import Base400, Forbidden, Response

log = logging.getLogger("intake.serve")

LOGIN_PATH = "/-/login"
ERRORS = {
    400: ("Yêu cầu không hợp lệ", "Địa chỉ trang có chỗ không đúng. Hãy quay lại trang chủ và chọn lại."),
    403: ("Không có quyền xem trang này", "Tài khoản đang dùng không được xem trang này."),
    404: ("Không tìm thấy trang", "Trang hoặc mục cần xem không có (có thể địa chỉ đã gõ sai, hoặc "
                                  "đợt báo cáo, đơn vị đó không có trong dữ liệu)."),
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
        request=request), status=status)


@hookimpl
def forbidden(datasette, request, message):
    if _wants_json(request):
        return None
    if not request.actor and login_required(datasette) and request.method == "GET":
        return Response.redirect(datasette.urls.path(LOGIN_PATH) + "?" + urlencode({"next": request.full_path}))

    async def inner():
        return await error_page(datasette, request, 403, message)
    return inner


@hookimpl
def handle_exception(datasette, request, exception):
    if _wants_json(request):
        return None
    if isinstance(exception, Base400):
        status, detail = exception.status, str(exception.args[0]) if exception.args else ""
    else:
        status = getattr(exception, "status", 500)
        detail = getattr(exception, "message", "") if status < 500 else ""
        if status >= 500:
            log.error("error on %s", request.path, exc_info=exception)

    async def inner():
        return await error_page(datasette, request, status, detail)
    return inner


async def login(datasette, request) -> Response:
    """datasette-auth-passwords' login, then back to the page the visitor asked for."""
    from datasette_auth_passwords import password_login

    response = await password_login(request, datasette)
    if response.status == 302 and any(c.startswith("ds_actor=") for c in response._set_cookie_headers):
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
