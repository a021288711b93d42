"""Sessions of the WooCommerce companion plugin's iframe (beside views.shopify_session).

The plugin's signed handoff token (verified and spent by services.woocommerce.embed) signs the
WordPress user in as the store's staff account, bound to that one store. Browsers do not send
our cookies inside another site's iframe (SameSite), so the page also gets its own credential,
a page token (an HS256 JWT, services.woocommerce.embed) it sends as
`Authorization: PhotoSync <token>` on API calls, like the Shopify page does with ID tokens.

Pages shown to a store in its iframe send `Content-Security-Policy: frame-ancestors <store
origin>` (`woocommerce_frame_headers`) and no X-Frame-Options.
"""

from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from photosync.models import Platform, Store
from photosync.selectors import active_user, store_get
from photosync.services.staff import store_staff_of, store_staff_user
from photosync.services.woocommerce.embed import (
    EmbedClaims,
    woocommerce_page_token_claims,
)
from photosync.services.woocommerce.endpoints import url_origin
from photosync.views.framing import frame_ancestors

SESSION_KEY = "photosync_store_id"


def woocommerce_embed_session_start(*, request: HttpRequest, store: Store, claims: EmbedClaims):
    """Sign the WordPress user in as the store's staff account, bound to that one store;
    return the account."""
    user = store_staff_user(store=store, remote_user_id=f"wp{claims.wp_user}", name=claims.name)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_KEY] = store.pk
    return user


def woocommerce_session_store(*, request: HttpRequest) -> Store | None:
    """The store an embedded session is bound to, if any."""
    store_id = request.session.get(SESSION_KEY)
    if not store_id:
        return None
    return store_get(store_id=store_id, platform=Platform.WOOCOMMERCE, active=True)


def woocommerce_frame_headers(response: HttpResponse, *, store: Store) -> HttpResponse:
    """Let only this store's admin frame the response."""
    return frame_ancestors(response, url_origin(store.domain))


def woocommerce_app_token_user(token: str):
    """The staff account a valid, unexpired page token names, bound to its active store;
    None otherwise."""
    claims = woocommerce_page_token_claims(token)
    if claims is None:
        return None
    store_id, username = claims
    store = store_get(store_id=store_id, platform=Platform.WOOCOMMERCE, active=True)
    if store is None or not store_staff_of(store=store, username=username):
        return None
    return active_user(username=username)


class EmbedTokenAuthentication(BaseAuthentication):
    """DRF: `Authorization: PhotoSync <token>` from the WooCommerce iframe's page."""

    keyword = "photosync"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.encode():
            return None
        user = woocommerce_app_token_user(parts[1].decode("latin-1"))
        if user is None:
            raise AuthenticationFailed("The PhotoSync page expired; reopen it from WooCommerce.")
        return user, None

    def authenticate_header(self, request) -> str:
        return "PhotoSync"
