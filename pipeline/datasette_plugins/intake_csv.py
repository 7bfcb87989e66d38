"""Every CSV Datasette serves opens right in Excel on Windows: it starts with a UTF-8 byte order
mark (without it Excel reads the Vietnamese as ANSI) and arrives as a download, never as text in
the browser (loaded by `intake serve`, plugins_dir)."""

from __future__ import annotations

from datasette import hookimpl

BOM = "\ufeff".encode("utf-8")


def _with_download(query_string: bytes) -> bytes:
    """The query string with Datasette's `_dl=1` (Content-Disposition: attachment, text/csv)."""
    args = query_string.split(b"&") if query_string else []
    if any(a.startswith((b"_dl=", b"_trace=")) for a in args):
        return query_string
    return b"&".join(args + [b"_dl=1"])


def csv_as_download(app):
    async def wrapped(scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith(".csv"):
            return await app(scope, receive, send)
        scope = dict(scope, query_string=_with_download(scope.get("query_string", b"")))
        state = {"csv": False, "started": False}

        async def send_with_bom(message):
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                state["csv"] = message["status"] == 200 and headers.get(b"content-type", b"").startswith(b"text/csv")
                if state["csv"] and b"content-length" in headers:
                    length = int(headers[b"content-length"]) + len(BOM)
                    message = dict(message, headers=[(k, str(length).encode() if k == b"content-length" else v)
                                                     for k, v in message["headers"]])
            elif message["type"] == "http.response.body" and state["csv"] and not state["started"]:
                state["started"] = True
                message = dict(message, body=BOM + message.get("body", b""))
            await send(message)

        await app(scope, receive, send_with_bom)
    return wrapped


@hookimpl
def asgi_wrapper(datasette):
    return csv_as_download
