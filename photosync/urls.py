from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from photosync.views import api, api_review, health, media, review, status

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", status.metrics, name="metrics"),
    path("status", status.status, name="status"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", review.queue, name="queue"),
    path("products/<int:product_id>/", review.product, name="product"),
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
    path("api/v1/images/<int:pk>/reopen", api_review.ImageReopen.as_view(),
         name="api-image-reopen"),
    path("api/v1/images/<int:pk>/unapprove", api_review.ImageUnapprove.as_view(),
         name="api-image-unapprove"),
    path("api/v1/images/bulk-approve", api.ImagesBulkApprove.as_view(),
         name="api-images-bulk-approve"),
    path("api/v1/products/<int:pk>/regenerate", api.ProductRegenerate.as_view(),
         name="api-product-regenerate"),
    path("api/v1/pushes/", api.PushList.as_view(), name="api-pushes"),
    path("api/v1/pushes/<int:pk>/retry", api.PushRetry.as_view(), name="api-push-retry"),
    path("api/v1/pushes/<int:pk>/rollback", api.PushRollback.as_view(),
         name="api-push-rollback"),
    path("api/v1/settings/", api.StoreSettingsView.as_view(), name="api-settings"),
    path("api/v1/usage/", api.StoreUsage.as_view(), name="api-usage"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include("photosync.urls_shopify")),
    path("", include("photosync.urls_woocommerce")),
]
