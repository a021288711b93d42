"""The media library: attachments, their REST representation, the uploads folder, and the
images a product request names by `{id}` or downloads from `{src}` during the request
(wc_rest_upload_image_from_url: an image extension, a safe URL, the bytes really of that type).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import requests

from emulators.woocommerce.handler import RestError, send
from emulators.woocommerce.state import StoreState, gmt

IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are (what WordPress checks against the extension)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class Media(StoreState):
    url: str
    sideload_allow_loopback: bool
    sideload_any_port: bool
    src_suffix: str

    def upload(self, filename: str, data: bytes, *, alt: str = "") -> int:
        """Add a file to the media library (as the merchant's own upload)."""
        with self.lock:
            return self._attachment(filename, data, title=PurePosixPath(filename).stem, alt=alt)

    def image_json(self, att_id: int) -> dict:
        att = self.attachments[att_id]
        return {
            "id": att_id,
            "date_created": gmt(att["created"]),
            "date_created_gmt": gmt(att["created"]),
            "date_modified": gmt(att["created"]),
            "date_modified_gmt": gmt(att["created"]),
            "src": f"{self.url}/wp-content/uploads/2026/11/{att['filename']}{self.src_suffix}",
            "name": att["title"],
            "alt": att["alt"],
        }

    def _resolve_images(self, specs: list) -> list[int]:
        """WC_REST_Products_Controller::set_product_images, one image at a time."""
        ids = []
        for spec in specs:
            spec = spec if isinstance(spec, dict) else {}
            att_id = int(spec.get("id") or 0)
            if not att_id and spec.get("src"):
                att_id = self._sideload(str(spec["src"]))
            with self.lock:
                att = self.attachments.get(att_id)
                if att is None:
                    raise RestError(400, "woocommerce_product_invalid_image_id",
                                    f"#{att_id} is an invalid image ID.")
                if spec.get("alt"):
                    att["alt"] = str(spec["alt"])
                if spec.get("name"):
                    att["title"] = str(spec["name"])
            ids.append(att_id)
        return ids

    def _sideload(self, src: str) -> int:
        """wc_rest_upload_image_from_url: extension, safe URL, download now, real type."""
        def refuse(message: str) -> RestError:
            return RestError(400, "woocommerce_product_image_upload_error", message)

        parts = urlsplit(src)
        filename = PurePosixPath(unquote(parts.path)).name
        extension = PurePosixPath(filename).suffix.lower()
        if extension not in IMAGE_TYPES:
            raise refuse("Invalid image: Sorry, you are not allowed to upload this file type.")
        if not self._safe_url(parts):
            raise refuse(f"Error getting remote image {src}. Error: A valid URL was not provided.")
        self.sideloads.append(src)
        try:
            response = requests.get(src, timeout=30)
        except requests.RequestException:
            raise refuse(f"Error getting remote image {src}. Error: could not connect.") from None
        if response.status_code != 200:
            raise refuse(f"Error getting remote image {src}. Error: {response.reason}")
        if sniff(response.content) != IMAGE_TYPES[extension]:
            raise refuse("Invalid image: Sorry, you are not allowed to upload this file type.")
        with self.lock:
            return self._attachment(filename, response.content,
                                    title=PurePosixPath(filename).stem, alt="")

    def _safe_url(self, parts) -> bool:
        """wp_http_validate_url: http(s), public address, port 80/443/8080."""
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if port not in (80, 443, 8080) and not self.sideload_any_port:
            return False
        try:
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            return False
        for info in infos:
            ip = ipaddress.ip_address(info[4][0])
            if ip.is_loopback and self.sideload_allow_loopback:
                continue
            if not ip.is_global:
                return False
        return True

    def _serve_upload(self, req, path: str) -> None:
        name = PurePosixPath(path).name
        with self.lock:
            att = next((a for a in self.attachments.values() if a["filename"] == name), None)
        if att is None:
            return send(req, 404, b"Not found", "text/plain")
        send(req, 200, att["data"], att["mime"])

    def _attachment(self, filename: str, data: bytes, *, title: str, alt: str) -> int:
        name = filename.strip(".-_") or "image"
        stem, ext = PurePosixPath(name).stem, PurePosixPath(name).suffix
        taken = {a["filename"] for a in self.attachments.values()}
        n = 0
        while name in taken:
            n += 1
            name = f"{stem}-{n}{ext}"
        att_id = self._new_id()
        self.attachments[att_id] = {
            "filename": name, "data": data, "mime": IMAGE_TYPES.get(ext.lower(), "image/jpeg"),
            "title": title, "alt": alt, "created": time.time(),
        }
        return att_id
