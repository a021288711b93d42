"""Review API additions (issue 16): take a decision back (`images/<id>/reopen` after a
reject, `images/<id>/unapprove` while the push has not started), and what the configured
scene generator does with a custom prompt (`prompt-help/`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from photosync.services.review import ReviewError, image_reopen, image_unapprove
from photosync.views.api import ImageAction, _conflict
from photosync.views.serializers import GeneratedSerializer


class ImageReopen(ImageAction):
    @extend_schema(request=None, responses={200: GeneratedSerializer})
    def post(self, request, pk: int):
        """Undo a reject: the output waits for review again (nothing is regenerated)."""
        try:
            image = image_reopen(image=self.image(pk), user=request.user)
        except ReviewError as exc:
            return _conflict(str(exc))
        return Response(GeneratedSerializer(image).data)


class ImageUnapprove(ImageAction):
    @extend_schema(request=None, responses={200: GeneratedSerializer})
    def post(self, request, pk: int):
        """Undo an approve while its push has not started (409 once it has)."""
        try:
            image = image_unapprove(image=self.image(pk), user=request.user)
        except ReviewError as exc:
            return _conflict(str(exc))
        return Response(GeneratedSerializer(image).data)
