"""The admin page for operators and local folder stores: one template and one script that
talk to the versioned API (`/api/v1/`). The same page is served to the embedded Shopify admin
(views.shopify.app, with App Bridge and ID tokens) and to the WooCommerce plugin's iframe
(views.woocommerce.embed_home, with the handoff session); only the way in differs.

Routes inside the page live in the URL's fragment (`#/products/12`, `#/settings`), so one
document serves every screen; `/products/<id>/` is a deep link that opens on a product.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from photosync.selectors import stores_for_user


def _page(request, initial_route: str = ""):
    response = render(request, "photosync/operator.html", {"initial_route": initial_route})
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_GET
def queue(request):
    return _page(request)


@login_required
@require_GET
def product(request, product_id: int):
    if not stores_for_user(user=request.user).filter(products__pk=product_id).exists():
        raise Http404
    return _page(request, f"#/products/{product_id}")
