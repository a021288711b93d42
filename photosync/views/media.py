"""Media URLs.

Generated images live under unguessable names and are public, because stores download
them (WooCommerce sideloads from a URL). Merchants' originals are served only to an
operator who may see the store.
"""

from __future__ import annotations

import mimetypes

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404

from photosync.models import GeneratedImage, SourceImage
from photosync.selectors import stores_for_user
from photosync.services.thumbnails import (
    SIZES,
    ThumbnailError,
    mask_link_open,
    mask_overlay,
    original_link_open,
    thumbnail_name,
)


def _unshowable(exc: ThumbnailError) -> HttpResponse:
    """422 with the reason as plain text (never a traceback); the page shows the reason in
    place of the picture. Not cached: the file may be replaced by a good one."""
    response = HttpResponse(str(exc), status=422, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def generated_media(request, path: str):
    if not path.startswith("generated/") or ".." in path.split("/"):
        raise Http404
    if not default_storage.exists(path):
        raise Http404
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def source_media(request, source_id: int):
    source = get_object_or_404(
        SourceImage, pk=source_id, product__store__in=stores_for_user(user=request.user)
    )
    if not source.file:
        raise Http404
    content_type = mimetypes.guess_type(source.file.name)[0] or "application/octet-stream"
    response = FileResponse(source.file.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def thumb(request, size: int, path: str):
    """A generated image's thumbnail at a display size (public, cached for a year)."""
    if size not in SIZES or not path.startswith("generated/") or ".." in path.split("/"):
        raise Http404
    if not default_storage.exists(path):
        raise Http404
    try:
        name = thumbnail_name(name=path, size=size)
    except ThumbnailError as exc:
        return _unshowable(exc)
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/webp")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def original(request, token: str):
    """A merchant's original (or its thumbnail) through an expiring signed link."""
    try:
        source_id, size = original_link_open(token)
    except signing.BadSignature:
        raise Http404 from None
    source = SourceImage.objects.filter(pk=source_id).first()
    if source is None or not source.file:
        raise Http404
    if size in SIZES:
        try:
            name = thumbnail_name(name=source.file.name, size=size)
        except ThumbnailError as exc:
            return _unshowable(exc)
        response = FileResponse(default_storage.open(name, "rb"), content_type="image/webp")
    else:
        content_type = mimetypes.guess_type(source.file.name)[0] or "application/octet-stream"
        response = FileResponse(source.file.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def mask(request, token: str):
    """The mask an output was made from (or the touch-up editor's layer of it) through an
    expiring signed link, like an original: it outlines the merchant's photo."""
    try:
        image_id, overlay = mask_link_open(token)
    except signing.BadSignature:
        raise Http404 from None
    image = GeneratedImage.objects.filter(pk=image_id).exclude(mask="").first()
    if image is None or not default_storage.exists(image.mask.name):
        raise Http404
    with default_storage.open(image.mask.name, "rb") as fh:
        data = fh.read()
    if overlay:
        try:
            data = mask_overlay(data)
        except (OSError, ValueError) as exc:
            return _unshowable(ThumbnailError(f"The cutout cannot be shown: {type(exc).__name__}."))
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
