"""Review API additions (issue 16): take a decision back (`images/<id>/reopen` after a
reject, `images/<id>/unapprove` while the push has not started), and what the configured
scene generator does with a custom prompt (`prompt-help/`), and mask touch-up
(`images/<id>/touch-up`: brush strokes in, a generation job out)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from photosync.services.review import ReviewError, image_reopen, image_unapprove
from photosync.services.touchup import BadStrokes, TouchUpError, touch_up_start
from photosync.views.api import ImageAction, _conflict
from photosync.views.serializers import GeneratedSerializer, JobSerializer, TouchUpSerializer


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


class ImageTouchUp(ImageAction):
    @extend_schema(request=TouchUpSerializer, responses={202: JobSerializer})
    def post(self, request, pk: int):
        """Touch up the cutout: the keep/erase strokes are drawn on the mask this output was
        made from, and a worker makes its framing, shadow and scenes again from the edited
        mask (the outputs it replaces leave the queue when the new ones are ready). 409 when
        the output cannot be touched up (the message says why); 400 for bad strokes."""
        image = self.image(pk)
        body = TouchUpSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            edit = touch_up_start(image=image, strokes=body.validated_data["strokes"],
                                  user=request.user)
        except BadStrokes as exc:
            return Response({"strokes": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        except TouchUpError as exc:
            return _conflict(str(exc))
        return Response(JobSerializer(edit.job).data, status=status.HTTP_202_ACCEPTED)
