"""The client against the emulator: OAuth 1.0a over http, pagination, 429, errors, timeouts."""

from __future__ import annotations

import http.server
import threading
import time

import pytest
import requests

from integrations.addresses import AddressPolicy, address_allowed, networks_parse
from integrations.errors import AuthRevoked, Invalid, NotFound, Throttled, Unavailable
from integrations.woocommerce.client import (
    OutcomeUnknown,
    WooClient,
    download,
    retry_after_seconds,
)
from tests.woocommerce.conftest import photo_bytes

LOOPBACK = AddressPolicy.of(["127.0.0.0/8"])


@pytest.fixture
def key(woo):
    return woo.add_key()


def test_oauth1_over_http_is_verified_by_the_store(woo, key):
    client = WooClient(woo.url, *key, policy=LOOPBACK)
    pid = woo.create_product("Watch")
    assert client.get(f"products/{pid}").data["name"] == "Watch"
    method, route, query = woo.requests[-1]
    assert query["oauth_signature_method"] == "HMAC-SHA256"
    assert "consumer_secret" not in query and key[1] not in str(query)

    with pytest.raises(AuthRevoked) as refused:
        WooClient(woo.url, key[0], "cs_" + "0" * 40, policy=LOOPBACK).get("products")
    assert "signature - provided signature does not match" in refused.value.message
    with pytest.raises(AuthRevoked):
        WooClient(woo.url, "ck_" + "0" * 40, key[1], policy=LOOPBACK).get("products")


def test_the_emulator_checks_nonce_timestamp_and_ignores_basic_auth_over_http(woo, key):
    WooClient(woo.url, *key, policy=LOOPBACK).get("products")
    _, route, query = woo.requests[-1]
    replay = requests.get(f"{woo.url}/wp-json/wc/v3/{route}", params=query, timeout=5)
    assert replay.status_code == 401
    assert replay.json()["message"] == "Invalid nonce - nonce has already been used."
    basic = requests.get(f"{woo.url}/wp-json/wc/v3/products", auth=key, timeout=5)
    assert basic.status_code == 401
    assert basic.json()["code"] == "woocommerce_rest_cannot_view"


def test_a_read_key_cannot_write(woo):
    client = WooClient(woo.url, *woo.add_key("read"), policy=LOOPBACK)
    client.get("products")
    with pytest.raises(AuthRevoked) as refused:
        client.post("products", {"name": "x"})
    assert "write permissions" in refused.value.message


def test_pages_follow_total_pages_with_at_most_100_per_page(woo, key):
    for n in range(205):
        woo.create_product(f"P{n}")
    client = WooClient(woo.url, *key, policy=LOOPBACK)
    pages = list(client.pages("products", {"per_page": 500, "orderby": "id", "order": "asc"}))
    assert [len(p) for p in pages] == [100, 100, 5]
    assert [q["per_page"] for m, r, q in woo.requests] == ["100", "100", "100"]
    ids = [p["id"] for page in pages for p in page]
    assert ids == sorted(ids) and len(set(ids)) == 205
    too_many = requests.get(f"{woo.url}/wp-json/wc/v3/products?per_page=101", timeout=5)
    assert too_many.status_code in (400, 401)


def test_pages_follow_the_link_header_when_the_totals_are_stripped(woo, key):
    for n in range(150):
        woo.create_product(f"P{n}")
    woo.strip_total_headers = True
    pages = list(WooClient(woo.url, *key, policy=LOOPBACK).pages("products", {"orderby": "id"}))
    assert [len(p) for p in pages] == [100, 50]


def test_a_short_retry_after_is_waited_out_and_a_long_one_raised(woo, key):
    woo.create_product("Watch")
    client = WooClient(woo.url, *key, policy=LOOPBACK)
    woo.throttle(2, "1")
    started = time.monotonic()
    assert len(client.get("products").data) == 1
    waited = time.monotonic() - started
    assert waited >= 2.0, waited  # two 429s, each with Retry-After: 1
    print(f"two 429s with Retry-After 1 honoured in {waited:.2f} s")

    woo.throttle(1, "120")
    with pytest.raises(Throttled) as throttled:
        client.get("products")
    assert throttled.value.retry_after == 120


def test_retry_after_parsing():
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds(None) == 5
    assert retry_after_seconds("soon") == 5
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_after_seconds(http_date) <= 31


def test_errors_are_classified_and_never_show_the_secret(woo, key):
    client = WooClient(woo.url, *key, policy=LOOPBACK)
    with pytest.raises(NotFound):
        client.get("products/999999")
    with pytest.raises(Invalid) as invalid:
        client.put(f"products/{woo.create_product('W')}", {"images": [{"id": 424242}]})
    assert "#424242 is an invalid image ID" in invalid.value.message
    for exc in (invalid.value,):
        assert key[0] not in exc.message and key[1] not in exc.message


def test_an_unanswered_write_is_outcome_unknown_and_a_refused_connection_is_not(woo, key):
    pid = woo.create_product("Watch")
    woo.put_delay = 2.0
    slow = WooClient(woo.url, *key, slow_timeout=0.5, policy=LOOPBACK)
    with pytest.raises(OutcomeUnknown):
        slow.put(f"products/{pid}", {"name": "Renamed"}, slow=True)
    assert woo.products[pid]["name"] == "Renamed"  # applied although unanswered
    with pytest.raises(Unavailable) as refused:
        WooClient("http://127.0.0.1:9", *key, policy=LOOPBACK).get("products")
    assert not isinstance(refused.value, OutcomeUnknown)


def test_redirects_are_not_followed(key):
    server = _server({"/wp-json/wc/v3/products": (301, {"Location": "https://elsewhere.test/x"},
                                                   b"")})
    with pytest.raises(Invalid) as redirected:
        WooClient(server, *key, policy=LOOPBACK).put("products", {"name": "x"})
    assert "https://elsewhere.test" in redirected.value.message


def test_download_checks_address_type_and_size(woo):
    pid = woo.create_product("Watch", [("watch.jpg", photo_bytes())])
    src = woo.product_json(woo.products[pid])["images"][0]["src"]
    assert download(src, max_bytes=10**7, policy=LOOPBACK) == photo_bytes()
    with pytest.raises(Invalid, match="private or local address"):
        download(src, max_bytes=10**7)  # loopback is refused unless allowed
    with pytest.raises(Invalid, match="larger than"):
        download(src, max_bytes=1000, policy=LOOPBACK)
    page = _server({"/page.jpg": (200, {"Content-Type": "text/html"}, b"<html>")})
    with pytest.raises(Invalid, match="not an image"):
        download(page + "/page.jpg", max_bytes=10**7, policy=LOOPBACK)
    with pytest.raises(NotFound):
        download(woo.url + "/wp-content/uploads/nope.jpg", max_bytes=10**7, policy=LOOPBACK)
    hop = _server({"/r.jpg": (302, {"Location": src}, b"")})
    assert download(hop + "/r.jpg", max_bytes=10**7, policy=LOOPBACK) == photo_bytes()


@pytest.mark.parametrize("address,allowed", [
    ("8.8.8.8", True), ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("::1", False), ("fd00::1", False), ("::ffff:127.0.0.1", False),
    ("2606:4700::1111", True), ("0.0.0.0", False), ("100.64.0.1", False),
])
def test_only_public_addresses_are_allowed(address, allowed):
    assert address_allowed(address) is allowed


def test_allowed_networks_open_a_door_explicitly():
    assert address_allowed("10.1.2.3", networks_parse(["10.0.0.0/8"]))
    with pytest.raises(ValueError):
        networks_parse(["not-a-network"])


def _server(routes: dict) -> str:
    """A throwaway HTTP server answering fixed (status, headers, body) per path."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, headers, body = routes.get(self.path.split("?")[0], (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = _answer

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"
