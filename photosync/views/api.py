"""The versioned JSON API (`/api/v1/`). Every object is scoped to the caller's stores."""

from __future__ import annotations

from django.http import Http404
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.reverse import reverse

from photosync.models import GeneratedImage, Product, Push, SourceImage
from photosync.selectors import generated_for_stores, product_detail, review_queue, stores_for_user
from photosync.services.media import media_public_url
from photosync.services.review import ReviewError, image_approve, image_reject


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceImage
        fields = ["id", "remote_id", "position", "alt", "status", "error", "width", "height"]


class GeneratedSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = GeneratedImage
        fields = [
            "id", "source", "kind", "preset", "generator", "seed", "status", "url",
            "width", "height", "metrics", "flags", "alt_text", "featured", "decided_at",
        ]

    def get_url(self, obj: GeneratedImage) -> str:
        return media_public_url(obj.file.name)


class ProductListSerializer(serializers.ModelSerializer):
    waiting = serializers.IntegerField(source="n_ready")
    approved = serializers.IntegerField(source="n_approved")
    pushed = serializers.IntegerField(source="n_pushed")

    class Meta:
        model = Product
        fields = ["id", "store", "remote_id", "title", "product_type", "waiting", "approved",
                  "pushed"]


class ProductSerializer(serializers.ModelSerializer):
    sources = SourceSerializer(many=True)
    generated = GeneratedSerializer(many=True)
    jobs = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "store", "remote_id", "title", "product_type", "sources", "generated",
                  "jobs"]

    def get_jobs(self, obj: Product) -> list[dict]:
        return [
            {"id": j.id, "status": j.status, "reason": j.reason, "error": j.error,
             "timings": j.timings, "notes": j.notes}
            for j in obj.jobs.all()
        ]


class PushSerializer(serializers.ModelSerializer):
    class Meta:
        model = Push
        fields = ["id", "image", "status", "remote_id", "error", "attempts", "pushed_at"]


class ApproveSerializer(serializers.Serializer):
    alt_text = serializers.CharField(required=False, allow_blank=True, max_length=512)
    featured = serializers.BooleanField(required=False, default=False)


@api_view(["GET"])
def api_root(request, format=None):
    return Response(
        {
            "products": reverse("api-products", request=request, format=format),
            "images": reverse("api-images", request=request, format=format),
        }
    )


class ProductList(ListAPIView):
    serializer_class = ProductListSerializer

    def get_queryset(self):
        status_filter = self.request.query_params.get("status", "all")
        return review_queue(stores=stores_for_user(user=self.request.user), status=status_filter)


class ProductDetail(RetrieveAPIView):
    serializer_class = ProductSerializer

    def get_object(self):
        try:
            return product_detail(
                stores=stores_for_user(user=self.request.user), product_id=self.kwargs["pk"]
            )
        except Product.DoesNotExist:
            raise Http404 from None


class ImageList(ListAPIView):
    serializer_class = GeneratedSerializer

    def get_queryset(self):
        qs = generated_for_stores(stores=stores_for_user(user=self.request.user)).order_by("-id")
        wanted = self.request.query_params.get("status")
        return qs.filter(status=wanted) if wanted else qs


def _image(request, pk: int) -> GeneratedImage:
    image = generated_for_stores(stores=stores_for_user(user=request.user)).filter(pk=pk).first()
    if image is None:
        raise Http404
    return image


@api_view(["POST"])
def image_approve_view(request, pk: int):
    image = _image(request, pk)
    body = ApproveSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    try:
        push = image_approve(image=image, user=request.user, **body.validated_data)
    except ReviewError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    return Response(PushSerializer(push).data, status=status.HTTP_202_ACCEPTED)


@api_view(["POST"])
def image_reject_view(request, pk: int):
    image = _image(request, pk)
    try:
        image = image_reject(image=image, user=request.user)
    except ReviewError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    return Response(GeneratedSerializer(image).data)
