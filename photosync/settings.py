"""PhotoSync settings: one 12-factor module.

Every value comes from the environment (or a `.env` file beside manage.py, which the
README's first command writes for you). Without `DATABASE_URL` and `REDIS_URL` PhotoSync
runs on its embedded defaults: a SQLite file and an in-process Dramatiq broker.
A missing required value stops the process at start-up with a message naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = Path(os.environ.get("PHOTOSYNC_ENV_FILE", BASE_DIR / ".env"))
if _env_file.is_file():
    environ.Env.read_env(str(_env_file), overwrite=False)


def required(name: str) -> str:
    """Return the variable's value or stop start-up naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(
            f"Missing required setting {name}: set the environment variable {name} "
            f"(see .env.example and the README's settings table)."
        )
    return value


# --- core ---------------------------------------------------------------------------
SECRET_KEY = required("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
PHOTOSYNC_PUBLIC_URL = required("PHOTOSYNC_PUBLIC_URL").rstrip("/")
_public = urlsplit(PHOTOSYNC_PUBLIC_URL)
if _public.scheme not in ("http", "https") or not _public.hostname:
    raise ImproperlyConfigured(
        "PHOTOSYNC_PUBLIC_URL must be an absolute http(s) origin such as https://photos.example.com"
    )
# Fernet keys for store credentials at rest; comma-separated, newest first (rotation).
PHOTOSYNC_ENCRYPTION_KEYS = [k.strip() for k in required("PHOTOSYNC_ENCRYPTION_KEY").split(",")]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[_public.hostname, "127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PHOTOSYNC_PUBLIC_URL])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "photosync",
]

MIDDLEWARE = [
    "photosync.middleware.WebhookTiming",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "photosync.middleware.DatabaseUnavailable",
    "photosync.views.shopify_session.ShopifySessionHeaders",
]

ROOT_URLCONF = "photosync.urls"
WSGI_APPLICATION = "photosync.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- database -----------------------------------------------------------------------
DATA_DIR = Path(env.str("PHOTOSYNC_DATA_DIR", default=str(BASE_DIR / "var")))
if "DATABASE_URL" in os.environ:
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "photosync.sqlite3",
            # Web, worker threads and the sync loop share this file in one-machine mode.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- broker -------------------------------------------------------------------------
# Unset: Dramatiq's stub broker, consumed by worker threads inside `manage.py serve`.
REDIS_URL = env.str("REDIS_URL", default="")
PHOTOSYNC_QUEUE_NAMESPACE = env.str("PHOTOSYNC_QUEUE_NAMESPACE", default="photosync")
PHOTOSYNC_WORKER_THREADS = env.int("PHOTOSYNC_WORKER_THREADS", default=2)

# --- media --------------------------------------------------------------------------
MEDIA_ROOT = Path(env.str("PHOTOSYNC_MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# --- media on S3-compatible object storage (optional; `pip install -e '.[s3]'`) ------------
# One private bucket for originals and generated images. Nothing in it is public: signed URLs
# (querystring auth) for anything the storage API hands out, and generated images reach stores
# through the app's own /media/ URL, which reads them through the storage API (put a CDN in
# front of PHOTOSYNC_PUBLIC_URL/media/). Credentials come from boto3's usual chain
# (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, an instance role, IRSA), never from settings.
# See docs/operations.md, "Media storage".
PHOTOSYNC_S3_BUCKET = env.str("PHOTOSYNC_S3_BUCKET", default="")
if PHOTOSYNC_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": PHOTOSYNC_S3_BUCKET,
            "endpoint_url": env.str("PHOTOSYNC_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("PHOTOSYNC_S3_REGION", default="") or None,
            "location": env.str("PHOTOSYNC_S3_PREFIX", default=""),
            "addressing_style": env.str("PHOTOSYNC_S3_ADDRESSING_STYLE", default="") or None,
            "default_acl": None,  # objects inherit the (private) bucket policy
            "querystring_auth": True,
            "querystring_expire": 3600,
            "file_overwrite": False,  # an original is never replaced in place
        },
    }
# --- end of S3 media -------------------------------------------------------------------
STATIC_URL = "/static/"
# Only for `collectstatic` (container images); WhiteNoise serves from the apps otherwise.
STATIC_ROOT = env.str("PHOTOSYNC_STATIC_ROOT", default=None)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

# --- image pipeline -----------------------------------------------------------------
PHOTOSYNC_MAX_IMAGE_BYTES = env.int("PHOTOSYNC_MAX_IMAGE_BYTES", default=40 * 1024 * 1024)
PHOTOSYNC_MAX_IMAGE_PIXELS = env.int("PHOTOSYNC_MAX_IMAGE_PIXELS", default=50_000_000)
PHOTOSYNC_SEGMENTER = env.str("PHOTOSYNC_SEGMENTER", default="classical")
PHOTOSYNC_SCENE_GENERATOR = env.str("PHOTOSYNC_SCENE_GENERATOR", default="procedural")
# Where this worker runs models: "cuda" on GPU workers (which refuse to start without one).
PHOTOSYNC_DEVICE = env.str("PHOTOSYNC_DEVICE", default="cpu")
PHOTOSYNC_DTYPE = env.str("PHOTOSYNC_DTYPE", default="float32")  # float16 / bfloat16 on GPUs
PHOTOSYNC_AUTO_MODEL = env.str("PHOTOSYNC_AUTO_MODEL", default="u2net")  # for segmenter "auto"
PHOTOSYNC_ALPHA_MATTING = env.bool("PHOTOSYNC_ALPHA_MATTING", default=False)
PHOTOSYNC_SCENE_STEPS = env.int("PHOTOSYNC_SCENE_STEPS", default=25)
PHOTOSYNC_SCENE_GUIDANCE = env.float("PHOTOSYNC_SCENE_GUIDANCE", default=7.0)
PHOTOSYNC_SCENE_SCHEDULER = env.str("PHOTOSYNC_SCENE_SCHEDULER", default="") or None
PHOTOSYNC_SCENE_LORA = env.str("PHOTOSYNC_SCENE_LORA", default="") or None
PHOTOSYNC_SCENE_SIZE = env.int("PHOTOSYNC_SCENE_SIZE", default=0) or None
PHOTOSYNC_SCENE_DEADLINE = env.float("PHOTOSYNC_SCENE_DEADLINE", default=300.0)

# --- sync loop and scheduling -------------------------------------------------------
PHOTOSYNC_SYNC_INTERVAL = env.float("PHOTOSYNC_SYNC_INTERVAL", default=10.0)
# Full catalog sweep cadence (seconds); the watermark pass runs every interval.
PHOTOSYNC_SWEEP_INTERVAL = env.float("PHOTOSYNC_SWEEP_INTERVAL", default=6 * 3600.0)
# Catalogs with more products than this on first sync are queued as off-peak backfill.
PHOTOSYNC_BACKFILL_THRESHOLD = env.int("PHOTOSYNC_BACKFILL_THRESHOLD", default=200)
# Generation jobs handed to the broker at once, per queue; the rest wait in the database
# where the dispatcher orders them fairly across stores.
PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = env.int("PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT", default=4)
PHOTOSYNC_DISPATCH_GPU_IN_FLIGHT = env.int("PHOTOSYNC_DISPATCH_GPU_IN_FLIGHT", default=2)
# Work sent to the broker that has not started (or finished) by then is sent again.
PHOTOSYNC_REDISPATCH_AFTER = env.float("PHOTOSYNC_REDISPATCH_AFTER", default=600.0)
# Webhook events recorded but not processed after this many seconds are enqueued again.
PHOTOSYNC_RECOVER_EVENTS_AFTER = env.float("PHOTOSYNC_RECOVER_EVENTS_AFTER", default=60.0)
# Seconds between subscription health checks (re-create or re-activate store webhooks).
PHOTOSYNC_HEALTH_INTERVAL = env.float("PHOTOSYNC_HEALTH_INTERVAL", default=900.0)
# Workers report every PHOTOSYNC_HEARTBEAT_INTERVAL s; silent for PHOTOSYNC_WORKER_DEAD_AFTER
# s means dead. With no GPU heartbeat for PHOTOSYNC_GPU_DEAD_AFTER s, GPU work goes to the
# CPU path ("cpu") or waits ("hold").
PHOTOSYNC_HEARTBEAT_INTERVAL = env.float("PHOTOSYNC_HEARTBEAT_INTERVAL", default=10.0)
PHOTOSYNC_WORKER_DEAD_AFTER = env.float("PHOTOSYNC_WORKER_DEAD_AFTER", default=60.0)
PHOTOSYNC_GPU_DEAD_AFTER = env.float("PHOTOSYNC_GPU_DEAD_AFTER", default=120.0)
PHOTOSYNC_GPU_FALLBACK = env.str("PHOTOSYNC_GPU_FALLBACK", default="cpu")
if PHOTOSYNC_GPU_FALLBACK not in ("cpu", "hold"):
    raise ImproperlyConfigured("PHOTOSYNC_GPU_FALLBACK must be 'cpu' or 'hold'")
# Redis broker: how long before a silent worker's unacked messages are redelivered (ms).
PHOTOSYNC_BROKER_HEARTBEAT_TIMEOUT = env.int("PHOTOSYNC_BROKER_HEARTBEAT_TIMEOUT", default=60000)
# Fetches per million that also requeue dead workers' messages (maintenance_chance).
PHOTOSYNC_BROKER_MAINTENANCE_CHANCE = env.int("PHOTOSYNC_BROKER_MAINTENANCE_CHANCE", default=1000)

# --- Shopify app (optional) ----------------------------------------------------------
# Unset API key/secret: PhotoSync still starts; the Shopify endpoints answer 503 saying so.
SHOPIFY_API_KEY = env.str("SHOPIFY_API_KEY", default="")
SHOPIFY_API_SECRET = env.str("SHOPIFY_API_SECRET", default="")
# The secret being rotated out: webhooks and ID tokens signed with it are still accepted.
SHOPIFY_PREVIOUS_API_SECRET = env.str("SHOPIFY_PREVIOUS_API_SECRET", default="")
SHOPIFY_SCOPES = env.str("SHOPIFY_SCOPES", default="read_products,write_products,write_files")
SHOPIFY_API_VERSION = env.str("SHOPIFY_API_VERSION", default="2026-10")
# Unset in production. Tests point it at the Shopify Admin emulator (an http://host:port origin
# that then stands in for https://{shop} and for Shopify's CDN).
SHOPIFY_API_ORIGIN = env.str("SHOPIFY_API_ORIGIN", default="").rstrip("/")
# --- end of Shopify app ----------------------------------------------------------------

# --- WooCommerce stores --------------------------------------------------------------
# Read timeout of ordinary API calls, and of image PUTs, during which the store downloads
# and resizes the image (WooCommerce's client library defaults to 5 s: far too short).
PHOTOSYNC_WOOCOMMERCE_TIMEOUT = env.float("PHOTOSYNC_WOOCOMMERCE_TIMEOUT", default=30.0)
PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT = env.float("PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT", default=180.0)
if PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT < 120:
    raise ImproperlyConfigured("PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT must be at least 120 s")
# Stores and image URLs must resolve to public addresses, except in these networks (CIDR,
# comma-separated), e.g. 10.0.0.0/8 for an on-premise store.
PHOTOSYNC_WOOCOMMERCE_ALLOWED_NETWORKS = env.list(
    "PHOTOSYNC_WOOCOMMERCE_ALLOWED_NETWORKS", default=[]
)
# Process-wide adapter options by platform (services.stores.adapter_options).
PHOTOSYNC_ADAPTER_OPTIONS = {
    "woocommerce": {
        "timeout": PHOTOSYNC_WOOCOMMERCE_TIMEOUT,
        "push_timeout": PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT,
        "allowed_networks": PHOTOSYNC_WOOCOMMERCE_ALLOWED_NETWORKS,
        "max_image_bytes": PHOTOSYNC_MAX_IMAGE_BYTES,
    },
}
# --- end of WooCommerce stores ---------------------------------------------------------

# --- observability ------------------------------------------------------------------
# When set, GET /metrics requires `Authorization: Bearer <token>`.
PHOTOSYNC_METRICS_TOKEN = env.str("PHOTOSYNC_METRICS_TOKEN", default="")

# --- auth, sessions, security -------------------------------------------------------
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _public.scheme == "https"
CSRF_COOKIE_SECURE = _public.scheme == "https"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Embedded Shopify admin: `Authorization: Bearer <App Bridge ID token>`.
        "photosync.views.shopify_session.ShopifyIdTokenAuthentication",
        # WooCommerce plugin's iframe: `Authorization: PhotoSync <signed page token>`.
        "photosync.views.woocommerce_session.EmbedTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# OpenAPI schema of the versioned API, served at /api/v1/schema/.
SPECTACULAR_SETTINGS = {
    "TITLE": "PhotoSync API",
    "DESCRIPTION": "The admin page's API: review, pushes, history, settings (see README).",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "json" writes one JSON object per line, with store_id/product_id/job_id when known.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "photosync.observability.ContextFilter"},
        "redact": {"()": "photosync.observability.RedactSecrets"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
