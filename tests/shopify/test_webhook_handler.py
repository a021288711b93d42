"""photosync.wsgi: webhook deliveries go through their own, shorter middleware chain, and
answer exactly as they would through the full one."""

from __future__ import annotations

import io
import sys

import pytest
from django.conf import settings
from django.db import connection

from photosync.models import WebhookEvent
from tests.shopify.conftest import product_payload, shopify_body, webhook_headers

# Transactional: a real handler closes the request's connection at its end (the test client
# would not), which a test wrapped in a transaction does not survive.
pytestmark = pytest.mark.django_db(transaction=True)


def call(handler, method: str, path: str, body: bytes = b"", **headers: str):
    """One request straight through a WSGI callable: (status, headers, body)."""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json", **headers,
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

    response = handler(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()
    return answer["status"], answer["headers"], content


def delivery(webhook_id: str) -> tuple[bytes, dict[str, str]]:
    body = shopify_body(product_payload(1))
    return body, webhook_headers(body, topic="products/update", webhook_id=webhook_id)


@pytest.fixture
def application(shopify_settings):
    from photosync.wsgi import Application

    return Application()


def test_the_webhook_chain_is_the_full_one_less_what_a_delivery_never_uses():
    kept = [m for m in settings.MIDDLEWARE if m in settings.WEBHOOK_MIDDLEWARE]
    assert kept == settings.WEBHOOK_MIDDLEWARE  # same order, nothing of its own
    for needed in ("photosync.middleware.WebhookTiming",
                   "django.middleware.security.SecurityMiddleware",
                   "photosync.middleware.DatabaseUnavailable"):
        assert needed in settings.WEBHOOK_MIDDLEWARE


def test_a_delivery_answers_the_same_through_either_chain_and_is_recorded_once(application):
    body, headers = delivery("lean-1")
    lean = call(application, "POST", "/webhooks/shopify", body, **headers)
    other_body, other_headers = delivery("full-1")
    full = call(application.full, "POST", "/webhooks/shopify", other_body, **other_headers)
    assert lean[0] == full[0] == 200
    assert lean[1] == full[1]  # Content-Length, X-Frame-Options, security headers, no cookie
    assert "Set-Cookie" not in lean[1] and "Vary" not in lean[1]
    assert call(application, "POST", "/webhooks/shopify", body, **headers)[0] == 200
    assert WebhookEvent.objects.filter(delivery_id="lean-1").count() == 1
    bad = dict(headers, HTTP_X_SHOPIFY_HMAC_SHA256="AAAA")
    assert call(application, "POST", "/webhooks/shopify", body, **bad)[0] == 401


def test_other_paths_keep_the_full_chain(application):
    status, headers, _ = call(application, "GET", "/login/")
    assert status == 200
    assert "csrftoken" in headers.get("Set-Cookie", "")  # CsrfViewMiddleware ran


def test_a_delivery_gets_503_with_retry_after_when_the_database_is_down(application, tmp_path):
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
    else:
        connection.settings_dict["PORT"] = "1"  # nothing listens there
    body, headers = delivery("down")
    try:
        status, headers, _ = call(application, "POST", "/webhooks/shopify", body, **headers)
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert status == 503
    assert headers["Retry-After"] == "30"
