"""Every outbound URL goes through integrations.http: the address of each connection is
checked when it is made (stored store addresses, redirects, DNS answers that change), the
non-public ranges include the IPv6 transition forms, and a download has a total deadline.

Servers here are real HTTP(S) servers on loopback; 127.0.0.2 stands for an internal host
(Linux routes all of 127/8 to loopback), and the operator allows only 127.0.0.1/32.
"""

from __future__ import annotations

import datetime
import http.server
import json
import socket
import ssl
import threading
import time

import pytest
import requests

from integrations import http as outbound
from integrations.addresses import AddressPolicy, AddressRefused
from integrations.base import NewImage
from integrations.errors import Invalid, Unavailable
from integrations.shopify import files as shopify_files
from integrations.shopify import transport as shopify_transport
from integrations.woocommerce.client import WooClient, download
from photosync.models import Platform, Store
from tests.woocommerce.conftest import photo_bytes

ONLY_1 = AddressPolicy.of(["127.0.0.1/32"])


class Recorder:
    """A real HTTP server that records each request it gets and answers from `routes`
    (path -> (status, headers, body)); `drip` sends the body one byte per `drip` seconds."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, routes: dict | None = None,
                 drip: float = 0.0, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[dict] = []
        self.routes = routes or {}
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                recorder.seen.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers),
                                      "body": self.rfile.read(length)})
                default = (200, {"Content-Type": "application/json"}, b"[]")
                status, headers, body = recorder.routes.get(self.path.split("?")[0], default)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if drip:
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(drip)
                    else:
                        self.wfile.write(body)
                except OSError:
                    pass  # the client hung up, as it should on a dripping server

            do_GET = do_PUT = do_POST = do_DELETE = _answer

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    made: list[Recorder] = []

    def make(**kwargs) -> Recorder:
        made.append(Recorder(**kwargs))
        return made[-1]

    yield make
    for server in made:
        server.close()


JPEG = {"Content-Type": "image/jpeg"}


# --- finding 5: the non-public ranges, IPv6 transition forms included -------------------

@pytest.mark.parametrize("address", [
    "::127.0.0.1", "::10.0.0.1",                 # IPv4-compatible
    "::ffff:0:127.0.0.1", "::ffff:0:10.1.2.3",   # SIIT (IPv4-translated)
    "::ffff:127.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe",  # NAT64 well-known prefix, embedded private
    "64:ff9b:1::808:808",                        # NAT64 local-use prefix: refused whole
    "2002:7f00:1::1", "2002:a00:1::",            # 6to4 of 127.0.0.1, 10.0.0.1
    "100.64.0.1", "100.127.255.254",             # shared address space (CG-NAT)
    "198.18.0.1", "198.19.255.1",                # benchmarking
    "224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1",  # multicast
    "240.0.0.1", "255.255.255.255", "0.0.0.0", "192.0.0.8", "192.88.99.1",  # reserved
    "2001:db8::1", "fec0::1", "5f00::1", "3fff::1", "2001::1",  # doc, site-local, SRv6, Teredo
])
def test_non_public_ranges_are_refused(address):
    assert not AddressPolicy().allows(address)


@pytest.mark.parametrize("address", [
    "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::",
])
def test_public_addresses_and_their_embedded_forms_are_allowed(address):
    assert AddressPolicy().allows(address)


@pytest.mark.parametrize("literal", ["[::127.0.0.1]", "[::ffff:0:127.0.0.1]",
                                     "[64:ff9b::127.0.0.1]", "[2002:7f00:1::1]", "100.64.0.1",
                                     "198.18.0.1"])
def test_a_url_naming_such_an_address_is_refused_before_any_connection(literal):
    with pytest.raises(AddressRefused, match="private or local address"):
        download(f"http://{literal}:8080/photo.jpg", max_bytes=10**6)


def test_allowed_networks_also_match_the_embedded_ipv4_address():
    assert AddressPolicy.of(["127.0.0.0/8"]).allows("::ffff:127.0.0.1")
    assert not AddressPolicy.of(["127.0.0.0/8"]).allows("10.0.0.1")


# --- every connection is checked where it is made ----------------------------------------

def test_a_dns_answer_that_changes_after_the_check_is_never_used(servers, monkeypatch):
    """Rebinding: the name resolves to the allowed host when checked, then to an internal
    one. The connection is pinned to the address that was checked."""
    public = servers(host="127.0.0.1", routes={"/p.jpg": (200, JPEG, b"\xff\xd8ok")})
    internal = servers(host="127.0.0.2", port=public.port)
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding_resolver(host, port, *args, **kwargs):
        if host == "rebind.test":  # the attacker's name server: first public, then internal
            address = next(answers, "127.0.0.2")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_resolver)
    got = download(f"http://rebind.test:{public.port}/p.jpg", max_bytes=100, policy=ONLY_1)
    assert got == b"\xff\xd8ok"
    assert public.seen[0]["headers"]["Host"] == f"rebind.test:{public.port}"
    assert internal.seen == []  # the second (internal) answer was never connected to


def test_the_connected_socket_is_checked_even_when_the_pinning_is_bypassed(servers):
    """Belt and braces: a connection that reaches a refused address is closed before a byte
    of the request is written."""
    internal = servers(host="127.0.0.2")

    class Unpinned(outbound.GuardedAdapter):
        def build_connection_pool_key_attributes(self, request, verify, cert=None):
            return requests.adapters.HTTPAdapter.build_connection_pool_key_attributes(
                self, request, verify, cert)

    client = outbound.session(ONLY_1)
    client.mount("http://", Unpinned(ONLY_1))
    with pytest.raises(AddressRefused, match="reached a private or local address"):
        client.get(f"{internal.url}/secret", timeout=5)
    time.sleep(0.2)
    assert internal.seen == []


def test_each_redirect_hop_is_checked(servers):
    internal = servers(host="127.0.0.2", routes={"/p.jpg": (200, JPEG, b"\xff\xd8")})
    hop = servers(routes={"/r.jpg": (302, {"Location": f"{internal.url}/p.jpg"}, b"")})
    with pytest.raises(AddressRefused):
        download(f"{hop.url}/r.jpg", max_bytes=100, policy=ONLY_1)
    assert len(hop.seen) == 1 and internal.seen == []
    loop = servers(routes={"/l.jpg": (302, {"Location": "/l.jpg"}, b"")})
    with pytest.raises(Invalid, match="redirected too many times"):
        download(f"{loop.url}/l.jpg", max_bytes=100, policy=ONLY_1)
    assert len(loop.seen) == 4  # the first request and three redirects


def test_https_is_pinned_but_keeps_the_name_for_sni_and_the_certificate(servers, tmp_path):
    """WooCommerce over https: Basic auth in a header (never the URL), through a pinned
    connection whose certificate is still checked against the store's name."""
    cert, key = _self_signed(tmp_path, "localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    names: list[str] = []
    tls.sni_callback = lambda sock, name, context: names.append(name)
    store = servers(host="127.0.0.1", tls=tls,
                    routes={"/wp-json/wc/v3/products": (200, {"Content-Type": "application/json"},
                                                        b'[{"id": 1}]')})
    client = WooClient(f"https://localhost:{store.port}", "ck_key", "cs_secret", policy=ONLY_1)
    client._session.verify = str(cert)  # trust this test's own certificate authority
    assert client.get("products").data == [{"id": 1}]
    request = store.seen[-1]
    assert request["headers"]["Authorization"].startswith("Basic ")
    assert "cs_secret" not in request["path"] and "oauth_signature" not in request["path"]
    assert request["headers"]["Host"] == f"localhost:{store.port}"
    assert names == ["localhost"]
    other = WooClient(f"https://127.0.0.1:{store.port}", "ck_key", "cs_secret", policy=ONLY_1)
    other._session.verify = str(cert)
    with pytest.raises(Unavailable):  # the certificate names localhost, not 127.0.0.1
        other.get("products")
    assert len(store.seen) == 1


# --- finding 2: a stored store address is checked at every call --------------------------

@pytest.fixture
def internal_store(servers, settings, db):
    """A WooCommerce store whose stored address now leads to an internal host (127.0.0.2),
    with the operator allowing only 127.0.0.1/32."""
    from photosync.services.credentials import store_credentials_set

    settings.PHOTOSYNC_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    product = {"id": 5, "name": "Watch", "type": "simple", "status": "publish",
               "date_modified_gmt": "2026-01-01T00:00:00", "images": []}
    internal = servers(host="127.0.0.2", routes={
        "/wp-json/wc/v3/products/5": (200, {"Content-Type": "application/json"},
                                      json.dumps(product).encode()),
    })
    store = Store.objects.create(platform=Platform.WOOCOMMERCE, domain=internal.url,
                                 name="moved")
    store_credentials_set(store=store, credentials={
        "consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40,
        "webhook_secret": "w" * 40, "embed_secret": "e" * 43,
    })
    return store, internal


def test_sync_reads_and_pushes_never_reach_a_stored_address_that_turned_internal(
        internal_store):
    from photosync.services.stores import store_adapter
    from photosync.services.sync import product_refresh, stores_reconcile

    store, internal = internal_store
    results = stores_reconcile(holder="test")
    assert results[store.pk].startswith("failed:") and "private or local" in results[store.pk]
    with pytest.raises(AddressRefused):
        product_refresh(store_id=store.pk, remote_id="5")
    adapter = store_adapter(store=store)
    image = NewImage(data=photo_bytes(), content_type="image/jpeg", filename="a.jpg",
                     content_hash="0" * 64, public_url="https://photos.example.com/a.jpg")
    calls = [
        lambda: list(adapter.iter_products()),
        lambda: adapter.get_product("5"),
        lambda: adapter.push_image("5", image),
        lambda: adapter.rollback("5", "9", {"images": []}),
        lambda: adapter.webhooks_ensure(delivery_url="https://x.example/w", secret="s" * 20),
    ]
    for call in calls:
        with pytest.raises(AddressRefused):
            call()
    time.sleep(0.2)
    assert internal.seen == []  # not one signed API call reached the internal host
    assert not store.products.exists()


def test_shopify_token_and_upload_calls_are_checked_too(servers):
    internal = servers(host="127.0.0.2")
    endpoint = shopify_transport.Endpoint(shop="a.myshopify.com", api_version="2026-10",
                                          api_origin=internal.url,
                                          allowed_networks=("127.0.0.1/32",))
    with pytest.raises(AddressRefused):
        shopify_transport.oauth_token(endpoint, {"client_id": "k", "client_secret": "s"})
    with pytest.raises(AddressRefused):
        shopify_files.staged_upload(url=f"{internal.url}/upload", parameters=[],
                                    filename="a.png", data=b"x", content_type="image/png",
                                    allow_http_origin=internal.url, policy=ONLY_1)
    time.sleep(0.2)
    assert internal.seen == []


# --- finding 6: a total deadline per download --------------------------------------------

def test_a_dripping_image_server_cannot_hold_a_download_past_its_deadline(servers):
    """One byte every 0.5 s never trips a per-read timeout; the deadline ends it."""
    drip = servers(routes={"/slow.jpg": (200, JPEG, b"\xff" * 200)}, drip=0.5)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="did not finish within 2 s"):
        download(f"{drip.url}/slow.jpg", max_bytes=10**6, policy=ONLY_1, deadline=2.0)
    took = time.monotonic() - started
    print(f"dripping download stopped after {took:.2f} s (deadline 2 s)")
    assert 1.9 <= took < 3.0, took


def test_the_deadline_also_bounds_dripped_headers(monkeypatch):
    """A server that drips its status line and headers is cut off at the deadline too."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def drip_headers():
        conn, _ = listener.accept()
        conn.recv(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nX-Pad: " + b"a" * 500:
                conn.send(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass
        conn.close()

    threading.Thread(target=drip_headers, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(Unavailable, match="did not finish within 1.5 s"):
        download(f"http://127.0.0.1:{listener.getsockname()[1]}/h.jpg", max_bytes=10**6,
                 policy=ONLY_1, deadline=1.5)
    assert time.monotonic() - started < 2.5
    listener.close()


def test_the_deadline_is_a_setting_every_adapter_applies(servers, settings):
    from photosync.services.stores import adapter_options

    assert settings.PHOTOSYNC_DOWNLOAD_DEADLINE == 60.0  # the default
    settings.PHOTOSYNC_DOWNLOAD_DEADLINE = 1.5
    drip = servers(routes={"/slow.jpg": (200, JPEG, b"\xff" * 100)}, drip=0.4)
    from integrations.base import RemoteImage
    from integrations.registry import build_adapter

    for platform, credentials, extra in (
        ("woocommerce", {"consumer_key": "ck_x", "consumer_secret": "cs_y"}, {}),
        ("shopify", {"access_token": "shpat_x"}, {"api_origin": drip.url}),
    ):
        options = {**adapter_options(platform=platform), **extra,
                   "allowed_networks": ["127.0.0.1/32"]}
        assert options["download_deadline"] == 1.5
        domain = "https://shop.example.com" if platform == "woocommerce" else "a.myshopify.com"
        adapter = build_adapter(platform, domain=domain, credentials=credentials,
                                settings=options)
        started = time.monotonic()
        with pytest.raises(Unavailable, match="did not finish within 1.5 s"):
            adapter.fetch_image(RemoteImage(remote_id="1", src=f"{drip.url}/slow.jpg"))
        assert time.monotonic() - started < 2.5, platform


def test_a_fast_download_is_untouched_by_its_deadline(servers):
    fast = servers(routes={"/p.jpg": (200, JPEG, photo_bytes())})
    assert download(f"{fast.url}/p.jpg", max_bytes=10**7, policy=ONLY_1,
                    deadline=2.0) == photo_bytes()
    time.sleep(2.2)  # the watchdog of a finished download is cancelled and touches nothing
    assert download(f"{fast.url}/p.jpg", max_bytes=10**7, policy=ONLY_1,
                    deadline=2.0) == photo_bytes()


def _self_signed(folder, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
