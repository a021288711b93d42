"""The store's HTTP surface: a request handler that hands every request to the emulator,
WordPress's REST error shape, and the helpers that write answers."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlencode


class RestError(Exception):
    """An error answer in the REST API's shape: `{"code", "message", "data": {"status"}}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class RequestHandler(BaseHTTPRequestHandler):
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format, *args) -> None:  # quiet
        pass

    def json_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise RestError(400, "rest_invalid_json", "Invalid JSON body passed.") from None

    def do_GET(self) -> None:
        self.server.emulator.handle(self, "GET")  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        self.server.emulator.handle(self, "POST")  # type: ignore[attr-defined]

    def do_PUT(self) -> None:
        self.server.emulator.handle(self, "PUT")  # type: ignore[attr-defined]

    def do_DELETE(self) -> None:
        self.server.emulator.handle(self, "DELETE")  # type: ignore[attr-defined]


def send(req: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
         headers: dict | None = None) -> None:
    try:
        req.send_response(status)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            req.send_header(name, value)
        req.end_headers()
        req.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timed-out PUT): the change stands


def send_json(req, status: int, data, headers: dict | None = None) -> None:
    send(req, status, json.dumps(data).encode(), "application/json; charset=UTF-8", headers)


def redirect(req, location: str) -> None:
    send(req, 302, b"", "text/html", {"Location": location})


def add_query(url: str, params: dict) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def int_param(query: dict, name: str, default: int) -> int:
    """An integer query parameter as the REST API validates it."""
    value = query.get(name)
    if value is None:
        return default
    if not str(value).lstrip("-").isdigit():
        raise RestError(400, "rest_invalid_param", f"Invalid parameter(s): {name}")
    return int(value)
