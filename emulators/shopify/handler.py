"""The emulator's HTTP surface: Admin GraphQL, the OAuth token endpoint, staged upload
targets (POST multipart and PUT), the CDN and bulk-operation results."""

from __future__ import annotations

import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from emulators.shopify.schema import API_VERSION

if TYPE_CHECKING:
    from emulators.shopify.server import ShopifyEmulator


class EmulatorHandler(BaseHTTPRequestHandler):
    emulator: ShopifyEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - quiet test output
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes | dict | str, content_type: str = "application/json",
              headers: dict | None = None) -> None:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _down(self) -> bool:
        """During an outage every request answers 503, as Shopify's edge does."""
        if not self.emulator.outage:
            return False
        self._send(503, "<html><body>Service Unavailable</body></html>", "text/html")
        return True

    def do_POST(self):  # noqa: N802 - http.server's naming
        emu = self.emulator
        path = urlsplit(self.path).path
        body = self._body()
        if self._down():
            return None
        match = re.match(r"^/admin/api/([^/]+)/graphql\.json$", path)
        if match:
            try:
                payload = json.loads(body)
            except ValueError:
                return self._send(400, {"errors": "Bad Request"})
            token = self.headers.get("X-Shopify-Access-Token", "")
            status, answer = emu.graphql(token, match.group(1), payload)
            headers = {"X-Shopify-API-Version": API_VERSION}
            if status == 429:
                headers["Retry-After"] = "1"
            return self._send(status, answer, headers=headers)
        if path == "/admin/oauth/access_token":
            try:
                payload = json.loads(body) if body.strip().startswith(b"{") else {
                    k: v[0] for k, v in parse_qs(body.decode()).items()}
            except ValueError:
                return self._send(400, {"error": "invalid_request"})
            status, answer = emu.oauth(payload)
            return self._send(status, answer)
        if path == "/staged-uploads/":
            fields = _multipart(self.headers.get("Content-Type", ""), body)
            names = [name for name, _ in fields]
            if not names or names[-1] != "file":
                return self._send(400, "<Error>file must be the last field</Error>",
                                  "application/xml")
            values = dict(fields)
            key_path = values.get("key", b"").decode()
            key = key_path.split("/")[2] if key_path.count("/") >= 3 else ""
            status = emu.receive_upload(key, values.get("x-goog-signature", b"").decode(),
                                        values["file"])
            return self._send(status, "" if status == 201 else "<Error>AccessDenied</Error>",
                              "application/xml")
        return self._send(404, {"errors": "Not Found"})

    def do_PUT(self):  # noqa: N802
        body = self._body()
        if self._down():
            return None
        parts = urlsplit(self.path)
        match = re.match(r"^/staged-uploads/tmp/[^/]+/([0-9a-f]+)/", parts.path)
        if not match:
            return self._send(404, {"errors": "Not Found"})
        signature = parse_qs(parts.query).get("X-Goog-Signature", [""])[0]
        status = self.emulator.receive_upload(match.group(1), signature, body)
        return self._send(200 if status == 201 else status, "", "application/xml")

    def do_GET(self):  # noqa: N802
        emu = self.emulator
        path = urlsplit(self.path).path
        if self._down():
            return None
        match = re.match(r"^/cdn/shops/([^/]+)/files/([^/]+)$", path)
        if match:
            for shop in emu.shops.values():
                if shop.name == match.group(1):
                    for media in shop.media.values():
                        if media.filename == match.group(2):
                            return self._send(200, media.data, media.content_type or
                                              "application/octet-stream")
            return self._send(404, "Not Found", "text/plain")
        match = re.match(r"^/bulk/(\d+)\.jsonl$", path)
        if match:
            for shop in emu.shops.values():
                op = shop.bulk.get(int(match.group(1)))
                if op is not None:
                    return self._send(200, op.lines, "application/jsonl")
        return self._send(404, "Not Found", "text/plain")


def _multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields = []
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields.append((name, part.get_payload(decode=True) or b""))
    return fields
