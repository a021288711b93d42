"""Who may frame a page: embedded admin pages (Shopify's, the WooCommerce plugin's iframe)."""

from __future__ import annotations

from django.http import HttpResponse


def frame_ancestors(response: HttpResponse, *origins: str) -> HttpResponse:
    """Let only `origins` frame the response: a per-response Content-Security-Policy
    `frame-ancestors`, and no X-Frame-Options (the CSP is the framing policy)."""
    response["Content-Security-Policy"] = f"frame-ancestors {' '.join(origins)};"
    response.xframe_options_exempt = True
    return response
