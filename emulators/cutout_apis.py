"""Hosted background-removal APIs on loopback: remove.bg and Photoroom, as documented.

One real HTTP server answers both:

* ``POST /v1.0/removebg`` (remove.bg): API key in ``X-Api-Key``; multipart ``image_file`` with
  form fields ``size`` (``auto``, ``preview``/``small``/``regular``, ``medium``, ``hd``,
  ``full``/``4k``), ``format`` (``auto``, ``png``, ``jpg``, ``zip``), ``type``, ``channels``
  (``rgba``, ``alpha``). 200 answers the image with ``X-Credits-Charged`` (1, or ¼ for a
  preview), ``X-Width``, ``X-Height``, ``X-Type`` and ``X-RateLimit-Limit/Remaining/Reset``.
  Errors are JSON ``{"errors": [{"title": ..., "code": ...}]}``: 400 invalid parameters or an
  unreadable image, 402 insufficient credits, 403 a bad key, 429 rate limit exceeded with
  ``Retry-After``. No credits are charged for an error.
* ``POST /v1/segment`` (Photoroom, Basic plan): API key in ``x-api-key``; multipart
  ``image_file`` (required) with ``format`` (``png``, ``jpg``, ``webp``), ``channels``
  (``rgba``, ``alpha``), ``size`` (``preview``, ``medium``, ``hd``, ``full``), ``crop``,
  ``bg_color``, ``despill``. 200 answers the image with ``x-uncertainty-score``. Errors are
  JSON ``{"detail", "status_code", "type"}`` (400 ``missing_image``, 402 out of credits);
  a bad key is 403 ``{"error": {"message": "Unauthorized"}}``.

The cutout is real: pixels that differ from the photo's border colour are the product, so a
studio photo comes back with a usable matte. Faults a test can switch on: ``fail_next(n,
status)`` (e.g. 500 or 503 for the next n calls), ``rate_limit(per_minute)``, ``credits``
(each provider's account balance), ``delay`` (seconds before answering: timeouts), ``uncertainty``
(Photoroom's score). ``hits`` counts calls per provider and ``requests`` keeps each call's
form fields and whether its key was right (never the key itself).
"""

from __future__ import annotations

import io
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

from emulators.woocommerce.handler import send, send_json  # plain HTTP answer helpers

REMOVEBG_PATH, PHOTOROOM_PATH = "/v1.0/removebg", "/v1/segment"
REMOVEBG_SIZES = {"auto", "preview", "small", "regular", "medium", "hd", "full", "4k"}
PREVIEW_PIXELS = 250_000  # both providers: a preview is at most 0.25 megapixels


class CutoutAPIEmulator:
    def __init__(self, *, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.lock = threading.Lock()
        self.hits = {"removebg": 0, "photoroom": 0}
        self.requests: list[dict] = []
        self.credits: dict[str, float | None] = {"removebg": None, "photoroom": None}
        self.delay = 0.0
        self.uncertainty = 0.05
        self._faults: list[int] = []
        self._per_minute: int | None = None
        self._window: list[float] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.emulator = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.removebg_url, self.photoroom_url = self.url + REMOVEBG_PATH, self.url + PHOTOROOM_PATH
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="cutout-apis")
        self._thread.start()

    def __enter__(self) -> CutoutAPIEmulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, count: int, status: int = 500) -> None:
        with self.lock:
            self._faults = [status] * count

    def rate_limit(self, per_minute: int | None) -> None:
        with self.lock:
            self._per_minute, self._window = per_minute, []

    # -- one call ---------------------------------------------------------------------------

    def answer(self, req: _Handler, provider: str) -> None:
        form, files = _multipart(req)
        key = req.headers.get("x-api-key")  # header names are case-insensitive
        with self.lock:
            self.hits[provider] += 1
            self.requests.append({"provider": provider, "form": form,
                                  "files": sorted(files), "key_ok": key == self.api_key})
            fault = self._faults.pop(0) if self._faults else None
            limited = self._limited()
        if self.delay:
            time.sleep(self.delay)
        if fault:
            return _error(req, provider, fault, "Internal server error", "internal_error")
        if key != self.api_key:
            if provider == "photoroom":
                return send_json(req, 403, {"error": {"message": "Unauthorized"}})
            return _error(req, provider, 403, "API Key invalid", "auth_failed")
        if limited is not None:
            return _error(req, provider, 429, "Rate limit exceeded", "rate_limit_exceeded",
                          limited)
        problem = _bad_params(provider, form, files)
        if problem:
            return _error(req, provider, 400, problem, "invalid_parameters")
        try:
            with Image.open(io.BytesIO(files["image_file"])) as opened:
                image = opened.convert("RGB")
        except (OSError, ValueError):
            return _error(req, provider, 400, "Failed to read the supplied image",
                          "unknown_foreground")
        preview = form.get("size", "auto" if provider == "removebg" else "full") in (
            "preview", "small", "regular")
        charged = 0.25 if preview else 1.0
        with self.lock:
            balance = self.credits[provider]  # each provider's own account; None: unlimited
            if balance is not None and balance < charged:
                return _error(req, provider, 402, "Insufficient credits", "insufficient_credits")
            if balance is not None:
                self.credits[provider] = balance - charged
        body = _cutout(image, alpha_only=form.get("channels") == "alpha", preview=preview)
        headers = {"X-Credits-Charged": f"{charged:g}", "X-Width": str(image.width),
                   "X-Height": str(image.height), "X-Type": "product"}
        if provider == "photoroom":
            headers = {"x-uncertainty-score": f"{self.uncertainty:g}"}
        send(req, 200, body, "image/png", {**headers, **self._limit_headers()})

    def _limited(self) -> float | None:
        """Seconds until the next call is allowed, or None (caller holds the lock)."""
        if self._per_minute is None:
            return None
        now = time.time()
        self._window = [t for t in self._window if now - t < 60]
        if len(self._window) >= self._per_minute:
            return 60 - (now - self._window[0])
        self._window.append(now)
        return None

    def _limit_headers(self) -> dict[str, str]:
        if self._per_minute is None:
            return {}
        with self.lock:
            left = max(0, self._per_minute - len(self._window))
            reset = int((self._window[0] if self._window else time.time()) + 60)
        return {"X-RateLimit-Limit": str(self._per_minute),
                "X-RateLimit-Remaining": str(left), "X-RateLimit-Reset": str(reset)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        emulator: CutoutAPIEmulator = self.server.emulator  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        if path == REMOVEBG_PATH:
            emulator.answer(self, "removebg")
        elif path == PHOTOROOM_PATH:
            emulator.answer(self, "photoroom")
        else:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            send(self, 404, b"Not found", "text/plain")

    def log_message(self, *args) -> None:
        pass


def _multipart(req: BaseHTTPRequestHandler) -> tuple[dict[str, str], dict[str, bytes]]:
    body = req.rfile.read(int(req.headers.get("Content-Length", 0)))
    kind = req.headers.get("Content-Type", "")
    if not kind.startswith("multipart/form-data"):
        return {}, {}
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {kind}\r\n\r\n".encode() + body)
    form, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[name] = payload
        else:
            form[name] = payload.decode()
    return form, files


def _bad_params(provider: str, form: dict[str, str], files: dict[str, bytes]) -> str:
    if "image_file" not in files:
        return "Please provide an image." if provider == "photoroom" else "No image given"
    allowed = {
        "removebg": {"size": REMOVEBG_SIZES, "format": {"auto", "png", "jpg", "zip"},
                     "channels": {"rgba", "alpha"}},
        "photoroom": {"size": {"preview", "medium", "hd", "full"},
                      "format": {"png", "jpg", "webp"}, "channels": {"rgba", "alpha"},
                      "crop": {"true", "false"}, "despill": {"true", "false"}},
    }[provider]
    for name, values in allowed.items():
        if name in form and form[name] not in values:
            return f"Invalid value for {name}: {form[name]!r}"
    return ""


def _cutout(image: Image.Image, *, alpha_only: bool, preview: bool) -> bytes:
    rgb = np.asarray(image, dtype=np.int16)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    backdrop = np.median(border, axis=0)
    alpha = (np.abs(rgb - backdrop).max(axis=2) > 24).astype(np.uint8) * 255
    matte = Image.fromarray(alpha, "L")
    out = matte if alpha_only else Image.merge("RGBA", (*image.split(), matte))
    if preview and out.width * out.height > PREVIEW_PIXELS:
        scale = (PREVIEW_PIXELS / (out.width * out.height)) ** 0.5
        out = out.resize((max(1, int(out.width * scale)), max(1, int(out.height * scale))))
    buffer = io.BytesIO()
    out.save(buffer, "PNG")
    return buffer.getvalue()


def _error(req, provider: str, status: int, title: str, code: str,
           retry_after: float | None = None) -> None:
    if provider == "removebg":
        body = {"errors": [{"title": title, "code": code}]}
    else:
        body = {"detail": title, "status_code": status, "type": code}
    headers = {"Retry-After": f"{max(1, round(retry_after))}"} if retry_after else {}
    send_json(req, status, body, headers)
