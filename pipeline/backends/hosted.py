"""Hosted cutout APIs as segmenters: ``removebg`` (remove.bg) and ``photoroom`` (Photoroom).

A fallback tier, not a default: the photo leaves this host and each call costs money. Both take
a multipart ``image_file`` and answer a PNG; PhotoSync asks for the alpha matte only
(``channels=alpha``) and resizes it to the photo.

* remove.bg: ``POST https://api.remove.bg/v1.0/removebg``, header ``X-Api-Key``, form fields
  ``size``, ``format``, ``type``, ``channels``; ``X-Credits-Charged`` says what the call cost;
  errors are JSON ``{"errors": [{"title": ...}]}``: 400 unprocessable image, 402 out of credits,
  403 bad key, 429 rate limited (``Retry-After``, ``X-RateLimit-Limit/Remaining/Reset``).
* Photoroom: ``POST https://sdk.photoroom.com/v1/segment``, header ``x-api-key``, form fields
  ``format``, ``channels``, ``size``, ``crop``; ``x-uncertainty-score`` (0 sure … 1 unsure) says
  how sure the model is; errors are JSON ``{"detail", "status_code", "type"}``.

Settings come from the environment, like rembg's own variables (the settings table documents
them): ``PHOTOSYNC_<P>_API_KEY``, ``PHOTOSYNC_<P>_URL`` (for proxies and tests),
``PHOTOSYNC_<P>_PRICE`` (USD per call; remove.bg: per credit), ``PHOTOSYNC_HOSTED_TIMEOUT``,
``PHOTOSYNC_HOSTED_BREAKER_FAILURES`` and ``PHOTOSYNC_HOSTED_BREAKER_COOLDOWN``. The key is sent
in its header only, and never appears in a message, a note or a log line.

Every failure is a :class:`~pipeline.errors.ServiceUnavailable` naming the provider and why, so
the fallback chain records it and moves on; failures that say the service itself is unwell
(timeouts, 5xx, 429, 402, 401/403) count towards the provider's circuit breaker
(``breaker.py``), an image the service refuses (400) does not.
"""

from __future__ import annotations

import email.utils
import io
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

import numpy as np
import requests
from PIL import Image

from pipeline.backends.base import Segmentation
from pipeline.backends.breaker import CircuitBreaker
from pipeline.errors import BackendUnavailable, ConfigError, ServiceUnavailable
from pipeline.models import model

UNSURE = 0.5  # Photoroom uncertainty above which the cutout is flagged for review
USER_AGENT = "PhotoSync (hosted cutout fallback)"


@dataclass(frozen=True)
class Provider:
    key: str  # the backend name: removebg | photoroom
    label: str
    key_header: str
    form: dict[str, str]
    max_side: int  # long side sent at most (the provider's own limit, with margin)
    error_text: Callable[[dict], str]


def _removebg_error(body: dict) -> str:
    return "; ".join(e.get("title", "") for e in body.get("errors", []) if isinstance(e, dict))


def _photoroom_error(body: dict) -> str:
    if isinstance(body.get("error"), dict):
        return str(body["error"].get("message", ""))
    return str(body.get("detail", ""))


PROVIDERS = {
    "removebg": Provider("removebg", "remove.bg", "X-Api-Key",
                         {"size": "auto", "format": "png", "type": "product",
                          "channels": "alpha"}, 5000, _removebg_error),
    "photoroom": Provider("photoroom", "Photoroom", "x-api-key",
                          {"format": "png", "channels": "alpha", "size": "full",
                           "crop": "false"}, 5000, _photoroom_error),
}
_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(provider: str) -> CircuitBreaker:
    """The process-wide breaker of ``provider``, created with the current settings."""
    with _breakers_lock:
        if provider not in _breakers:
            _breakers[provider] = CircuitBreaker(
                PROVIDERS[provider].label,
                failures=int(_number("PHOTOSYNC_HOSTED_BREAKER_FAILURES", 3)),
                cooldown=_number("PHOTOSYNC_HOSTED_BREAKER_COOLDOWN", 60.0),
            )
        return _breakers[provider]


def breakers_reset() -> None:
    with _breakers_lock:
        _breakers.clear()


class HostedSegmenter:
    """One provider's API as a :class:`~pipeline.backends.base.Segmenter`."""

    def __init__(self, provider: str) -> None:
        self.provider = PROVIDERS[provider]
        self.name = provider
        prefix = f"PHOTOSYNC_{provider.upper()}"
        self._api_key = os.environ.get(f"{prefix}_API_KEY", "").strip()
        if not self._api_key:
            raise BackendUnavailable(
                f"The {self.provider.label} segmenter needs an API key: set {prefix}_API_KEY."
            )
        spec = model(provider)
        self.url = os.environ.get(f"{prefix}_URL", "").strip() or spec.ref
        self.price = _number(f"{prefix}_PRICE", spec.price_usd or 0.0)
        self.timeout = _number("PHOTOSYNC_HOSTED_TIMEOUT", 30.0)
        self.breaker = breaker_for(provider)

    def __repr__(self) -> str:  # never the key
        return f"HostedSegmenter({self.name!r}, url={self.url!r})"

    def preload(self) -> list[str]:
        return []  # nothing to load; reachability is learnt per call, by the breaker

    def segment(self, rgb: np.ndarray) -> Segmentation:
        label = self.provider.label
        self.breaker.acquire()
        started = time.perf_counter()
        try:
            response = _post(self.url, headers={self.provider.key_header: self._api_key,
                                                "User-Agent": USER_AGENT},
                             files={"image_file": ("image.jpg", _jpeg(rgb, self.provider),
                                                   "image/jpeg")},
                             data=self.provider.form, timeout=self.timeout)
        except requests.Timeout:
            return self._fail(f"{label} did not answer within {self.timeout:g} s")
        except requests.RequestException as exc:
            return self._fail(f"{label} could not be reached ({type(exc).__name__})")
        status = response.status_code
        if status == 200:
            alpha = self._alpha(response, rgb.shape[1], rgb.shape[0])
            self.breaker.success()
            return self._segmentation(alpha, response, time.perf_counter() - started)
        detail = self._error_text(response)
        if status == 429:
            wait = _retry_after(response.headers)
            return self._fail(f"{label} is rate limiting PhotoSync (HTTP 429{detail}); retry in "
                              f"{wait:.0f} s", open_for=wait)
        if status == 402:
            return self._fail(f"{label} is out of credits (HTTP 402{detail})",
                              open_for=self.breaker.cooldown * 10)
        if status in (401, 403):
            return self._fail(f"{label} rejected the API key (HTTP {status}{detail})",
                              open_for=self.breaker.cooldown * 10)
        if 400 <= status < 500:
            self.breaker.success()  # the service is up; it refused this one image
            raise ServiceUnavailable(f"{label} could not process this image (HTTP {status}"
                                     f"{detail})")
        return self._fail(f"{label} answered HTTP {status}{detail}")

    def _fail(self, message: str, *, open_for: float | None = None) -> NoReturn:
        self.breaker.failure(message, open_for=open_for)
        raise ServiceUnavailable(message)

    def _alpha(self, response: requests.Response, width: int, height: int) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(response.content)) as image:
                image.load()
                bands = image.getbands()
                matte = (image.getchannel("A") if "A" in bands
                         else image.convert("L"))
        except (OSError, ValueError, Image.DecompressionBombError):
            self._fail(f"{self.provider.label} answered HTTP 200 without a readable image "
                       f"({response.headers.get('Content-Type', 'no content type')})")
        if matte.size != (width, height):
            matte = matte.resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(matte, dtype=np.uint8).copy()

    def _segmentation(self, alpha: np.ndarray, response: requests.Response,
                      seconds: float) -> Segmentation:
        headers = response.headers
        credits = _float(headers.get("X-Credits-Charged"), 1.0)
        metrics = {"segmenter_credits": credits,
                   "segmenter_cost_usd": round(credits * self.price, 6),
                   "segmenter_seconds": round(seconds, 3)}
        notes, confident = [], True
        remaining = headers.get("X-RateLimit-Remaining")
        if remaining is not None and _float(remaining, 1.0) <= 0:
            wait = _retry_after(headers)
            self.breaker.failure(f"{self.provider.label} rate limit used up", open_for=wait)
            notes.append(f"{self.provider.label}'s rate limit is used up; pausing it "
                         f"{wait:.0f} s")
        uncertainty = headers.get("x-uncertainty-score")
        if uncertainty is not None:
            metrics["segmenter_uncertainty"] = _float(uncertainty, -1.0)
            if metrics["segmenter_uncertainty"] > UNSURE:
                confident = False
                notes.append(f"{self.provider.label} is unsure of this cutout (uncertainty "
                             f"{metrics['segmenter_uncertainty']:.2f})")
        return Segmentation(alpha=alpha, notes=notes, confident=confident, segmenter=self.name,
                            metrics=metrics)

    def _error_text(self, response: requests.Response) -> str:
        try:
            text = self.provider.error_text(response.json())
        except (ValueError, AttributeError):
            text = ""
        return f": {text[:200]}" if text else ""


def _post(url: str, **kwargs) -> requests.Response:
    """The one outbound call, isolated so the project's hardened HTTP client can replace it."""
    return requests.post(url, allow_redirects=False, **kwargs)


def _jpeg(rgb: np.ndarray, provider: Provider) -> bytes:
    """The photo as a high-quality JPEG, at most ``max_side`` long (the mask is resized back)."""
    image = Image.fromarray(rgb, "RGB")
    if max(image.size) > provider.max_side:
        image.thumbnail((provider.max_side, provider.max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _retry_after(headers) -> float:
    """Seconds until the service takes calls again: ``Retry-After`` (seconds or an HTTP
    date), else ``X-RateLimit-Reset`` (a Unix time), else the breaker's cool-down (0 here)."""
    value = headers.get("Retry-After")
    if value:
        seconds = _float(value, None)
        if seconds is None:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                seconds = None
        if seconds is not None:
            return max(0.0, seconds)
    reset = _float(headers.get("X-RateLimit-Reset"), None)
    return max(0.0, reset - time.time()) if reset else 0.0


def _float(value, default):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = _float(raw, None)
    if value is None or value < 0:
        raise ConfigError(f"{name} must be a number of 0 or more, got {raw!r}.")
    return value
