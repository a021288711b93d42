"""The versioned JSON API (`/api/v1/`) behind the admin page.

Every object is scoped to the caller's stores (`selectors.stores_for_user`): another store's
ids answer 404, never 403. Two ways in: a Django session (operators at /login/, the
WooCommerce plugin's signed handoff), which DRF holds to CSRF on unsafe methods; or an App
Bridge ID token (`Authorization: Bearer …`) from the embedded Shopify admin, where a bad
token answers 401 with `X-Shopify-Retry-Invalid-Session-Request: 1`.

Views parse and answer; services write and selectors read.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from integrations.errors import IntegrationError, Retryable
from photosync.flags import flag_codes
from photosync.middleware import retry_after_seconds
from photosync.models import GeneratedImage, Product, Push, Store
from photosync.selectors import (
    QUEUE_FILTERS,
    generated_for_stores,
    product_detail,
    products_generating,
    pushes_for_stores,
    review_queue,
    review_queue_counts,
    review_version,
    store_for_user,
    store_usage,
    stores_for_user,
)
from photosync.services.delay import processing_delay
from photosync.services.products import product_regenerate
from photosync.services.pushes import PushError, push_retry, push_rollback
from photosync.services.review import (
    ReviewError,
    image_approve,
    image_reject,
    images_approve_bulk,
)
from photosync.services.store_settings import (
    SettingsError,
    store_settings_choices,
    store_settings_get,
    store_settings_update,
)
from photosync.views.live import conditional
from photosync.views.serializers import (
    ApproveSerializer,
    BulkApproveResultSerializer,
    BulkApproveSerializer,
    GeneratedSerializer,
    JobSerializer,
    ProductListSerializer,
    ProductSerializer,
    PushSerializer,
    RegenerateSerializer,
    SettingsSerializer,
    StoreSerializer,
    UsageSerializer,
)
from photosync.views.shopify_session import ShopifyIdTokenAuthentication
from photosync.views.woocommerce_session import EmbedTokenAuthentication


class IdTokenScheme(OpenApiAuthenticationExtension):
    target_class = "photosync.views.shopify_session.ShopifyIdTokenAuthentication"
    name = "shopifyIdToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An App Bridge ID token (embedded Shopify admin)."}


class EmbedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "photosync.views.woocommerce_session.EmbedTokenAuthentication"
    name = "woocommerceEmbedToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`PhotoSync <token>`: the page token of the WooCommerce "
                               "plugin's iframe."}


class StoreScoped:
    """Both ways in, explicitly (whatever the project's defaults become)."""

    authentication_classes = [
        SessionAuthentication, ShopifyIdTokenAuthentication, EmbedTokenAuthentication
    ]

    def stores(self):
        return stores_for_user(user=self.request.user)

    def store(self) -> Store:
        """The store named by `?store=<id>`, or the caller's only one."""
        raw = self.request.query_params.get("store")
        if raw is not None:
            if not raw.isdigit():
                raise Http404
            store = store_for_user(user=self.request.user, store_id=int(raw))
            if store is None:
                raise Http404
            return store
        store = store_for_user(user=self.request.user)
        if store is None:
            if not self.stores().exists():
                raise Http404
            raise ValidationError({"store": ["Several stores: name one with ?store=<id>."]})
        return store


STORE_PARAM = OpenApiParameter("store", OpenApiTypes.INT, description=(
    "The store (ids from the API root); optional when the caller sees only one."))


def _conflict(message: str) -> Response:
    return Response({"detail": message}, status=status.HTTP_409_CONFLICT)


def _integration_error(exc: IntegrationError) -> Response:
    """The store refused (409), or could not be reached (503 with Retry-After)."""
    if isinstance(exc, Retryable):
        return Response({"detail": exc.message}, status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(retry_after_seconds(exc.retry_after))})
    return Response({"detail": exc.message}, status=409)


class ApiRoot(StoreScoped, APIView):
    @extend_schema(responses=inline_serializer("ApiRoot", {
        "stores": StoreSerializer(many=True),
        **{name: serializers.URLField() for name in
           ("products", "images", "pushes", "settings", "usage", "schema")},
    }))
    def get(self, request, format=None):
        """The resources of the caller's stores."""
        urls = {name: reverse(f"api-{name}", request=request, format=format)
                for name in ("products", "images", "pushes", "settings", "usage", "schema")}
        return Response({"stores": StoreSerializer(self.stores(), many=True).data, **urls})


api_root = ApiRoot.as_view()


class ProductList(StoreScoped, ListAPIView):
    """The review queue: products newest activity first, with per-status counts, filtered by
    `status`, plus `counts`: how many products each filter shows."""

    serializer_class = ProductListSerializer

    def filtered_stores(self):
        stores = self.stores()
        raw = self.request.query_params.get("store")
        if raw is not None:
            stores = stores.filter(pk=int(raw)) if raw.isdigit() else stores.none()
        return stores

    def get_queryset(self):
        wanted = self.request.query_params.get("status", "all")
        if wanted not in QUEUE_FILTERS:
            raise ValidationError({"status": [f"One of {', '.join(QUEUE_FILTERS)}."]})
        qs = review_queue(stores=self.filtered_stores(), status=wanted)
        text = self.request.query_params.get("q", "").strip()
        return qs.filter(title__icontains=text) if text else qs

    def version(self) -> str:
        """The queue's fingerprint, and the delay banner's text (taken once, for the body)."""
        self.delay = processing_delay(stores=self.filtered_stores())
        return repr((review_version(stores=self.filtered_stores()), self.delay["text"]))

    @extend_schema(parameters=[
        OpenApiParameter("status", OpenApiTypes.STR, enum=list(QUEUE_FILTERS)),
        OpenApiParameter("q", OpenApiTypes.STR, description="Words in the title."),
        STORE_PARAM,
    ])
    @conditional(lambda view: view.version())
    def get(self, request, *args, **kwargs):
        response = self.list(request, *args, **kwargs)
        response.data["counts"] = review_queue_counts(stores=self.filtered_stores())
        response.data["generating"] = products_generating(stores=self.filtered_stores())
        response.data["delay"] = self.delay
        return response


class ProductDetail(StoreScoped, RetrieveAPIView):
    """One product: its originals, every output, the jobs and the push history."""

    serializer_class = ProductSerializer

    def get_object(self):
        try:
            return product_detail(stores=self.stores(), product_id=self.kwargs["pk"])
        except Product.DoesNotExist:
            raise Http404 from None

    @conditional(lambda view: review_version(stores=view.stores(), product_id=view.kwargs["pk"]))
    def get(self, request, *args, **kwargs):
        return self.retrieve(request, *args, **kwargs)


class ProductRegenerate(StoreScoped, APIView):
    @extend_schema(request=RegenerateSerializer, responses={202: JobSerializer})
    def post(self, request, pk: int):
        """Generate again, with the store's settings or the overrides given."""
        product = Product.objects.filter(store__in=self.stores(), pk=pk).first()
        if product is None:
            raise Http404
        body = RegenerateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = product_regenerate(product=product, overrides=body.validated_data)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImageList(StoreScoped, ListAPIView):
    serializer_class = GeneratedSerializer

    def get_queryset(self):
        qs = generated_for_stores(stores=self.stores()).order_by("-id")
        wanted = self.request.query_params.get("status")
        return qs.filter(status=wanted) if wanted else qs


class ImageAction(StoreScoped, APIView):
    def image(self, pk: int) -> GeneratedImage:
        image = generated_for_stores(stores=self.stores()).filter(pk=pk).first()
        if image is None:
            raise Http404
        return image


class ImageApprove(ImageAction):
    @extend_schema(request=ApproveSerializer, responses={202: PushSerializer})
    def post(self, request, pk: int):
        """Approve (with alt text, and whether it becomes the featured image): it is pushed."""
        image = self.image(pk)
        body = ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            push = image_approve(image=image, user=request.user, hold=True,
                                 **body.validated_data)
        except ReviewError as exc:
            return _conflict(str(exc))
        return Response(PushSerializer(push).data, status=status.HTTP_202_ACCEPTED)


class ImageReject(ImageAction):
    @extend_schema(request=None, responses={200: GeneratedSerializer})
    def post(self, request, pk: int):
        image = self.image(pk)
        try:
            image = image_reject(image=image, user=request.user)
        except ReviewError as exc:
            return _conflict(str(exc))
        return Response(GeneratedSerializer(image).data)


class ImagesBulkApprove(StoreScoped, APIView):
    @extend_schema(request=BulkApproveSerializer, responses={202: BulkApproveResultSerializer})
    def post(self, request):
        """Approve the waiting outputs of the given images or products, across products;
        outputs flagged by a fidelity threshold are skipped (each needs a look)."""
        body = BulkApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids, product_ids = body.validated_data["images"], body.validated_data["products"]
        qs = generated_for_stores(stores=self.stores())
        wanted = list(qs.filter(pk__in=ids)) + list(
            qs.filter(product_id__in=product_ids, status=GeneratedImage.Status.READY)
            .exclude(pk__in=ids)
        )
        if ids and len({i.pk for i in wanted} & set(ids)) != len(set(ids)):
            raise Http404  # an id that is not the caller's, or no image at all
        pushes, skipped = images_approve_bulk(images=wanted, user=request.user)
        result = {
            "approved": [p.image_id for p in pushes],
            "skipped": [{"id": i.pk, "reason": "flagged" if flag_codes(i.flags) else i.status}
                        for i in skipped],
            "pushes": PushSerializer(pushes, many=True).data,
        }
        return Response(result, status=status.HTTP_202_ACCEPTED)


class PushList(StoreScoped, ListAPIView):
    """Pushes newest first (the history and live status), by `product` and `status`."""

    serializer_class = PushSerializer

    def get_queryset(self):
        qs = pushes_for_stores(stores=self.stores())
        product = self.request.query_params.get("product")
        if product is not None:
            qs = qs.filter(product_id=int(product)) if product.isdigit() else qs.none()
        wanted = self.request.query_params.get("status")
        return qs.filter(status=wanted) if wanted else qs

    @extend_schema(parameters=[
        OpenApiParameter("product", OpenApiTypes.INT),
        OpenApiParameter("status", OpenApiTypes.STR, enum=list(Push.Status.values)),
    ])
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)


class PushAction(StoreScoped, APIView):
    def push(self, pk: int) -> Push:
        push = pushes_for_stores(stores=self.stores()).filter(pk=pk).first()
        if push is None:
            raise Http404
        return push


class PushRetry(PushAction):
    @extend_schema(request=None, responses={202: PushSerializer})
    def post(self, request, pk: int):
        """Send a failed (or rolled back) push again."""
        try:
            push = push_retry(push=self.push(pk))
        except PushError as exc:
            return _conflict(str(exc))
        return Response(PushSerializer(self.push(push.pk)).data, status=202)


class PushRollback(PushAction):
    @extend_schema(request=None, responses={200: PushSerializer})
    def post(self, request, pk: int):
        """Take the image off the product and restore the gallery as it was before."""
        try:
            push = push_rollback(push=self.push(pk), user=request.user)
        except PushError as exc:
            return _conflict(str(exc))
        except IntegrationError as exc:
            return _integration_error(exc)
        return Response(PushSerializer(self.push(push.pk)).data)


SETTINGS_RESPONSE = inline_serializer("StoreSettings", {
    "store": StoreSerializer(),
    "settings": SettingsSerializer(),
    "choices": serializers.DictField(),
    "usage": UsageSerializer(),
    "can_change_limit": serializers.BooleanField(),
})


class StoreSettingsView(StoreScoped, APIView):
    """A store's settings, what each may be set to, and this month's usage."""

    def answer(self, store: Store, values: dict) -> Response:
        return Response({
            "store": StoreSerializer(store).data,
            "settings": values,
            "choices": store_settings_choices(),
            "usage": store_usage(store=store),
            "can_change_limit": bool(self.request.user.is_staff),
        })

    @extend_schema(parameters=[STORE_PARAM], responses=SETTINGS_RESPONSE)
    def get(self, request):
        store = self.store()
        return self.answer(store, store_settings_get(store=store))

    @extend_schema(parameters=[STORE_PARAM], request=SettingsSerializer,
                   responses=SETTINGS_RESPONSE)
    def patch(self, request):
        """Change any subset; an invalid value answers 400 naming it, changing nothing."""
        store = self.store()
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "Send a JSON object of settings."})
        if "monthly_generation_limit" in request.data and not request.user.is_staff:
            raise ValidationError(
                {"monthly_generation_limit": ["Only an operator can change the limit."]})
        try:
            values = store_settings_update(store=store, changes=dict(request.data))
        except SettingsError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        store.refresh_from_db()
        return self.answer(store, values)


class StoreUsage(StoreScoped, APIView):
    @extend_schema(parameters=[STORE_PARAM], responses=UsageSerializer)
    def get(self, request):
        """Generations used this month against the store's monthly limit."""
        return Response(store_usage(store=self.store()))


# Names kept from the first version of this module (photosync.urls).
image_approve_view = ImageApprove.as_view()
image_reject_view = ImageReject.as_view()
