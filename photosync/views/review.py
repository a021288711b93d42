"""The operator's review pages (server-rendered; works without JavaScript)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from photosync.models import Product
from photosync.selectors import (
    generated_for_stores,
    product_detail,
    review_queue,
    stores_for_user,
)
from photosync.services.review import ReviewError, image_approve, image_reject

FILTERS = ("waiting", "all", "pushed", "failed")


@login_required
def queue(request):
    status = request.GET.get("status", "waiting")
    if status not in FILTERS:
        status = "waiting"
    stores = stores_for_user(user=request.user)
    products = list(review_queue(stores=stores, status=status)[:200])
    return render(
        request,
        "photosync/queue.html",
        {"products": products, "status": status, "filters": FILTERS, "stores": stores},
    )


@login_required
def product(request, product_id: int):
    try:
        item = product_detail(stores=stores_for_user(user=request.user), product_id=product_id)
    except Product.DoesNotExist:
        raise Http404 from None
    return render(request, "photosync/product.html", {"product": item})


@login_required
@require_POST
def decide(request, image_id: int):
    image = get_object_or_404(
        generated_for_stores(stores=stores_for_user(user=request.user)), pk=image_id
    )
    action = request.POST.get("action")
    try:
        if action == "approve":
            image_approve(
                image=image,
                user=request.user,
                alt_text=request.POST.get("alt_text"),
                featured=request.POST.get("featured") == "on",
            )
            messages.success(request, "Approved; it is on its way to the store.")
        elif action == "reject":
            image_reject(image=image, user=request.user)
            messages.info(request, "Rejected.")
        else:
            messages.error(request, "Unknown action.")
    except ReviewError as exc:
        messages.error(request, str(exc))
    return redirect("product", product_id=image.product_id)


