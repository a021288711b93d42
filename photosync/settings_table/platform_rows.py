"""Settings rows of the store platforms and the containers (part of the settings table,
split from rows.py to keep each module short)."""

from __future__ import annotations

from photosync.settings_table.setting import STORES, WEB, Setting
from photosync.settings_table.setting import group as _group

PLATFORM_SETTINGS: tuple[Setting, ...] = (
    *_group(
        "Shopify app (optional)",
        Setting("SHOPIFY_API_KEY", "str", "",
                "The Shopify app's client id. Unset: PhotoSync still runs, and the Shopify "
                "endpoints answer 503 saying so.", STORES),
        Setting("SHOPIFY_API_SECRET", "str", "",
                "The app's client secret: it signs webhooks, ID tokens and OAuth redirects.",
                STORES, secret=True),
        Setting("SHOPIFY_PREVIOUS_API_SECRET", "str", "",
                "While rotating the secret: the old one, still accepted for webhooks and ID "
                "tokens.", WEB, secret=True),
        Setting("SHOPIFY_SCOPES", "str", "read_products,write_products,write_files",
                "Must match `deploy/shopify.app.toml`.", WEB),
        Setting("SHOPIFY_API_VERSION", "str", "2026-10",
                "The pinned Admin API version. Every GraphQL document is validated against "
                "that version's schema in the tests.", STORES),
        Setting("SHOPIFY_API_ORIGIN", "url", "",
                "Tests only: points the Shopify client at the Admin emulator. Leave it unset "
                "in production.", STORES),
    ),
    *_group(
        "WooCommerce stores",
        Setting("PHOTOSYNC_WOOCOMMERCE_TIMEOUT", "float", 30.0,
                "Seconds to wait for a WooCommerce store's REST answer.", STORES, minimum=1),
        Setting("PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT", "float", 180.0,
                "Seconds to wait for an image PUT (at least 120), during which the store "
                "downloads and resizes the image.", STORES, minimum=120),
        Setting("PHOTOSYNC_WOOCOMMERCE_ALLOWED_NETWORKS", "list", (),
                "Deprecated: the old name of `PHOTOSYNC_ALLOWED_NETWORKS`, still read (its "
                "networks are added to that list).", STORES),
    ),
    *_group(
        "Containers (deploy/)",
        Setting("PHOTOSYNC_APP_DIR", "path", None,
                "The entrypoint's working folder (the image's copy of the repository).",
                ("entrypoint",), shown_default="`/app`"),
        Setting("PORT", "int", 8000, "The port `web` listens on (and the health check "
                "asks).", ("entrypoint",)),
        Setting("WEB_CONCURRENCY", "int", 4, "gunicorn worker processes of `web`.",
                ("entrypoint",)),
        Setting("WEB_THREADS", "int", 4, "Threads per gunicorn worker.", ("entrypoint",)),
        Setting("WEB_TIMEOUT", "int", 60,
                "Seconds before gunicorn restarts a silent worker.", ("entrypoint",)),
        Setting("FORWARDED_ALLOW_IPS", "str", "*",
                "Proxies whose `X-Forwarded-*` headers gunicorn trusts.", ("entrypoint",)),
        Setting("WORKER_QUEUES", "list", ("webhooks", "generate-cpu", "push", "sync"),
                "The queues of the `worker` role.", ("entrypoint",)),
        Setting("WORKER_PROCESSES", "int", 2,
                "Processes of the `worker` role. The GPU worker is always one process, one "
                "thread, prefetch 1.", ("entrypoint",)),
        Setting("WORKER_THREADS", "int", 2, "Threads per `worker` process.", ("entrypoint",)),
        Setting("POSTGRES_PASSWORD", "str", None,
                "Compose only (required there): the PostgreSQL password it builds "
                "`DATABASE_URL` from.", ("compose",), secret=True),
        Setting("PHOTOSYNC_HTTP_PORT", "int", 8000, "Compose: the host port of `web`.",
                ("compose",)),
        Setting("PHOTOSYNC_IMAGE", "str", "photosync:local",
                "Compose: the app image to run or build.", ("compose",)),
        Setting("PHOTOSYNC_GPU_IMAGE", "str", "photosync-gpu:local",
                "Compose: the GPU image to run or build.", ("compose",)),
        Setting("PHOTOSYNC_PREFETCH", "str", "1",
                "GPU image build argument: `0` keeps the model weights out of the image (a "
                "model cache is mounted at `/models` instead).", ("image build",),
                choices=("0", "1")),
        Setting("REDIS_ADDRESS", "str", None,
                "Kubernetes Secret: `host:port` of Redis for KEDA's Redis scaler (it takes no "
                "URL).", ("KEDA",)),
        Setting("REDIS_PASSWORD", "str", None,
                "Kubernetes Secret: the Redis password for KEDA, as in `REDIS_URL`.",
                ("KEDA",), secret=True),
    ),
)
