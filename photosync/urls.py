from django.contrib.auth import views as auth_views
from django.urls import include, path

from photosync.views import api, health, media, review, status

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", status.metrics, name="metrics"),
    path("status", status.status, name="status"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", review.queue, name="queue"),
    path("products/<int:product_id>/", review.product, name="product"),
    path("images/<int:image_id>/decide", review.decide, name="decide"),
    path("sources/<int:source_id>", media.source_media, name="source-media"),
    path("media/<path:path>", media.generated_media, name="generated-media"),
    path("thumbs/<int:size>/<path:path>", media.thumb, name="thumb"),
    path("originals/<str:token>", media.original, name="original"),
    path("api/v1/", api.api_root, name="api-root"),
    path("api/v1/products/", api.ProductList.as_view(), name="api-products"),
    path("api/v1/products/<int:pk>/", api.ProductDetail.as_view(), name="api-product"),
    path("api/v1/images/", api.ImageList.as_view(), name="api-images"),
    path("api/v1/images/<int:pk>/approve", api.image_approve_view, name="api-image-approve"),
    path("api/v1/images/<int:pk>/reject", api.image_reject_view, name="api-image-reject"),
    path("", include("photosync.urls_shopify")),
    path("", include("photosync.urls_woocommerce")),
]
