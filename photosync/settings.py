"""PhotoSync settings: one 12-factor module.

Every value comes from the environment (or a `.env` file beside manage.py, which the
README's first command writes for you), read through `photosync.settings_table.read`: each
variable's type, default and meaning are one row of photosync/settings_table/rows.py.
Without `DATABASE_URL` and `REDIS_URL` PhotoSync runs on its embedded defaults: a SQLite
file and an in-process Dramatiq broker. A missing required value, or a malformed one, stops
the process at start-up with a message naming it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from integrations.addresses import networks_parse
from photosync.settings_table import read

BASE_DIR = Path(__file__).resolve().parent.parent

_env_file = read("PHOTOSYNC_ENV_FILE") or BASE_DIR / ".env"
if _env_file.is_file():
    environ.Env.read_env(str(_env_file), overwrite=False)

SECRET_KEY = read("SECRET_KEY")
DEBUG = read("DEBUG")
PHOTOSYNC_PUBLIC_URL = read("PHOTOSYNC_PUBLIC_URL").rstrip("/")
_public = urlsplit(PHOTOSYNC_PUBLIC_URL)
if _public.scheme not in ("http", "https") or not _public.hostname:
    raise ImproperlyConfigured(
        "PHOTOSYNC_PUBLIC_URL must be an absolute http(s) origin such as https://photos.example.com"
    )
# Fernet keys for store credentials at rest; comma-separated, newest first (rotation).
PHOTOSYNC_ENCRYPTION_KEYS = read("PHOTOSYNC_ENCRYPTION_KEY")

ALLOWED_HOSTS = read("ALLOWED_HOSTS") or [_public.hostname, "127.0.0.1", "localhost"]
CSRF_TRUSTED_ORIGINS = read("CSRF_TRUSTED_ORIGINS") or [PHOTOSYNC_PUBLIC_URL]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "axes",
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
    "photosync.middleware.StoreUnavailable",
    "photosync.views.shopify_session.ShopifySessionHeaders",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the 429
]
# What /webhooks/ deliveries go through instead (photosync.wsgi), in MIDDLEWARE's order: the
# ack timing, HTTPS and security headers, Content-Length, the frame header, and the 503s for
# an unreachable database or store. Not sessions, CSRF (the views are exempt), users,
# messages, static files or login throttling: a signed POST from a platform uses none.
WEBHOOK_MIDDLEWARE = [
    "photosync.middleware.WebhookTiming",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "photosync.middleware.DatabaseUnavailable",
    "photosync.middleware.StoreUnavailable",
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

DATA_DIR = read("PHOTOSYNC_DATA_DIR") or BASE_DIR / "var"
DATABASE_URL = read("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
    DATABASES["default"].setdefault("CONN_MAX_AGE", read("DATABASE_CONN_MAX_AGE"))
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

# Unset: Dramatiq's stub broker, consumed by worker threads inside `manage.py serve`.
REDIS_URL = read("REDIS_URL") or ""
PHOTOSYNC_QUEUE_NAMESPACE = read("PHOTOSYNC_QUEUE_NAMESPACE")
PHOTOSYNC_WORKER_THREADS = read("PHOTOSYNC_WORKER_THREADS")

MEDIA_ROOT = read("PHOTOSYNC_MEDIA_ROOT") or DATA_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Media on S3-compatible object storage (optional; `pip install -e '.[s3]'`):
# one private bucket for originals and generated images. Nothing in it is public: signed URLs
# (querystring auth) for anything the storage API hands out, and generated images reach stores
# through the app's own /media/ URL, which reads them through the storage API (put a CDN in
# front of PHOTOSYNC_PUBLIC_URL/media/). Credentials come from boto3's usual chain
# (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, an instance role, IRSA), never from settings.
# See docs/operations.md, "Media storage".
PHOTOSYNC_S3_BUCKET = read("PHOTOSYNC_S3_BUCKET")
if PHOTOSYNC_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": PHOTOSYNC_S3_BUCKET,
            "endpoint_url": read("PHOTOSYNC_S3_ENDPOINT_URL"),
            "region_name": read("PHOTOSYNC_S3_REGION"),
            "location": read("PHOTOSYNC_S3_PREFIX"),
            "addressing_style": read("PHOTOSYNC_S3_ADDRESSING_STYLE"),
            "default_acl": None,  # objects inherit the (private) bucket policy
            "querystring_auth": True,
            "querystring_expire": 3600,
            "file_overwrite": False,  # an original is never replaced in place
        },
    }
STATIC_URL = "/static/"
# WhiteNoise serves from the apps; STATIC_ROOT is only for `collectstatic` (images).
STATIC_ROOT = read("PHOTOSYNC_STATIC_ROOT")
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

PHOTOSYNC_MAX_IMAGE_BYTES = read("PHOTOSYNC_MAX_IMAGE_BYTES")
PHOTOSYNC_MAX_IMAGE_PIXELS = read("PHOTOSYNC_MAX_IMAGE_PIXELS")
PHOTOSYNC_PNG_COMPRESSION = read("PHOTOSYNC_PNG_COMPRESSION")
if PHOTOSYNC_PNG_COMPRESSION > 9:
    raise ImproperlyConfigured(
        f"PHOTOSYNC_PNG_COMPRESSION is a zlib level, 0..9; got {PHOTOSYNC_PNG_COMPRESSION}")
PHOTOSYNC_SEGMENTER = read("PHOTOSYNC_SEGMENTER")
PHOTOSYNC_SCENE_GENERATOR = read("PHOTOSYNC_SCENE_GENERATOR")
PHOTOSYNC_DEVICE = read("PHOTOSYNC_DEVICE")
PHOTOSYNC_DTYPE = read("PHOTOSYNC_DTYPE")
PHOTOSYNC_AUTO_MODEL = read("PHOTOSYNC_AUTO_MODEL")
PHOTOSYNC_SECOND_OPINION = read("PHOTOSYNC_SECOND_OPINION")
PHOTOSYNC_ALPHA_MATTING = read("PHOTOSYNC_ALPHA_MATTING")
PHOTOSYNC_SCENE_STEPS = read("PHOTOSYNC_SCENE_STEPS")
PHOTOSYNC_SCENE_GUIDANCE = read("PHOTOSYNC_SCENE_GUIDANCE")
PHOTOSYNC_SCENE_SCHEDULER = read("PHOTOSYNC_SCENE_SCHEDULER")
PHOTOSYNC_SCENE_LORA = read("PHOTOSYNC_SCENE_LORA")
PHOTOSYNC_SCENE_SIZE = read("PHOTOSYNC_SCENE_SIZE") or None  # 0: the model's native size
PHOTOSYNC_SCENE_DEADLINE = read("PHOTOSYNC_SCENE_DEADLINE")
PHOTOSYNC_GPU_SEGMENTER = read("PHOTOSYNC_GPU_SEGMENTER")
_fallback = read("PHOTOSYNC_SEGMENTER_FALLBACK")
PHOTOSYNC_SEGMENTER_FALLBACK = [] if [n.lower() for n in _fallback] == ["none"] else _fallback
PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS = read("PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS")
PHOTOSYNC_HARMONIZE = read("PHOTOSYNC_HARMONIZE")
if PHOTOSYNC_HARMONIZE.startswith("relight:"):
    raise ImproperlyConfigured(
        f"PHOTOSYNC_HARMONIZE={PHOTOSYNC_HARMONIZE} names a relighting model: relighting models "
        "are not supported yet. Use `grade` (a bounded colour/exposure grade toward the "
        "scene's light) or `off`.")
if PHOTOSYNC_HARMONIZE not in ("off", "grade"):
    raise ImproperlyConfigured(
        f"PHOTOSYNC_HARMONIZE must be one of off, grade, got {PHOTOSYNC_HARMONIZE!r}")
# Hosted cutout APIs. Read here so a malformed value stops start-up; the pipeline's hosted
# segmenters read the same variables from the environment (as rembg reads U2NET_HOME).
PHOTOSYNC_REMOVEBG_API_KEY = read("PHOTOSYNC_REMOVEBG_API_KEY")
PHOTOSYNC_REMOVEBG_URL = read("PHOTOSYNC_REMOVEBG_URL")
PHOTOSYNC_REMOVEBG_PRICE = read("PHOTOSYNC_REMOVEBG_PRICE")
PHOTOSYNC_PHOTOROOM_API_KEY = read("PHOTOSYNC_PHOTOROOM_API_KEY")
PHOTOSYNC_PHOTOROOM_URL = read("PHOTOSYNC_PHOTOROOM_URL")
PHOTOSYNC_PHOTOROOM_PRICE = read("PHOTOSYNC_PHOTOROOM_PRICE")
PHOTOSYNC_HOSTED_TIMEOUT = read("PHOTOSYNC_HOSTED_TIMEOUT")
PHOTOSYNC_HOSTED_BREAKER_FAILURES = read("PHOTOSYNC_HOSTED_BREAKER_FAILURES")
PHOTOSYNC_HOSTED_BREAKER_COOLDOWN = read("PHOTOSYNC_HOSTED_BREAKER_COOLDOWN")

PHOTOSYNC_SYNC_INTERVAL = read("PHOTOSYNC_SYNC_INTERVAL")
PHOTOSYNC_SWEEP_INTERVAL = read("PHOTOSYNC_SWEEP_INTERVAL")
PHOTOSYNC_BACKFILL_THRESHOLD = read("PHOTOSYNC_BACKFILL_THRESHOLD")
PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = read("PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT")
PHOTOSYNC_DISPATCH_GPU_IN_FLIGHT = read("PHOTOSYNC_DISPATCH_GPU_IN_FLIGHT")
PHOTOSYNC_PUSH_RETRY_MAX_DELAY = read("PHOTOSYNC_PUSH_RETRY_MAX_DELAY")
PHOTOSYNC_APPROVE_UNDO_SECONDS = read("PHOTOSYNC_APPROVE_UNDO_SECONDS")
PHOTOSYNC_DELAY_BANNER_AFTER = read("PHOTOSYNC_DELAY_BANNER_AFTER")
PHOTOSYNC_HEALTH_INTERVAL = read("PHOTOSYNC_HEALTH_INTERVAL")
PHOTOSYNC_HEARTBEAT_INTERVAL = read("PHOTOSYNC_HEARTBEAT_INTERVAL")
PHOTOSYNC_WORKER_DEAD_AFTER = read("PHOTOSYNC_WORKER_DEAD_AFTER")
PHOTOSYNC_GPU_DEAD_AFTER = read("PHOTOSYNC_GPU_DEAD_AFTER")
PHOTOSYNC_GPU_FALLBACK = read("PHOTOSYNC_GPU_FALLBACK")
PHOTOSYNC_BROKER_HEARTBEAT_TIMEOUT = read("PHOTOSYNC_BROKER_HEARTBEAT_TIMEOUT")
PHOTOSYNC_BROKER_MAINTENANCE_CHANCE = read("PHOTOSYNC_BROKER_MAINTENANCE_CHANCE")

PHOTOSYNC_CPU_WATTS_PER_CORE = read("PHOTOSYNC_CPU_WATTS_PER_CORE")
PHOTOSYNC_GRID_INTENSITY = read("PHOTOSYNC_GRID_INTENSITY")
PHOTOSYNC_GRID_INTENSITY_URL = read("PHOTOSYNC_GRID_INTENSITY_URL")
PHOTOSYNC_GRID_INTENSITY_TOKEN = read("PHOTOSYNC_GRID_INTENSITY_TOKEN")
PHOTOSYNC_GRID_INTENSITY_TIMEOUT = read("PHOTOSYNC_GRID_INTENSITY_TIMEOUT")
PHOTOSYNC_GRID_INTENSITY_CACHE = read("PHOTOSYNC_GRID_INTENSITY_CACHE")
PHOTOSYNC_CLEAN_GRID_HOURS = read("PHOTOSYNC_CLEAN_GRID_HOURS")

SHOPIFY_API_KEY = read("SHOPIFY_API_KEY")
SHOPIFY_API_SECRET = read("SHOPIFY_API_SECRET")
SHOPIFY_PREVIOUS_API_SECRET = read("SHOPIFY_PREVIOUS_API_SECRET")
SHOPIFY_SCOPES = read("SHOPIFY_SCOPES")
SHOPIFY_API_VERSION = read("SHOPIFY_API_VERSION")
SHOPIFY_API_ORIGIN = read("SHOPIFY_API_ORIGIN").rstrip("/")

PHOTOSYNC_WOOCOMMERCE_TIMEOUT = read("PHOTOSYNC_WOOCOMMERCE_TIMEOUT")
PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT = read("PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT")
# Every outbound connection (integrations.http) is checked against public addresses plus
# these networks; the old WooCommerce-only name is still read and added.
PHOTOSYNC_ALLOWED_NETWORKS = [*read("PHOTOSYNC_ALLOWED_NETWORKS"), *(
    n for n in read("PHOTOSYNC_WOOCOMMERCE_ALLOWED_NETWORKS")
    if n not in read("PHOTOSYNC_ALLOWED_NETWORKS"))]
try:
    networks_parse(PHOTOSYNC_ALLOWED_NETWORKS)
except ValueError as exc:
    raise ImproperlyConfigured(f"PHOTOSYNC_ALLOWED_NETWORKS: {exc}") from None
PHOTOSYNC_DOWNLOAD_DEADLINE = read("PHOTOSYNC_DOWNLOAD_DEADLINE")
# Process-wide adapter options by platform (services.stores.adapter_options).
PHOTOSYNC_ADAPTER_OPTIONS = {
    "woocommerce": {
        "timeout": PHOTOSYNC_WOOCOMMERCE_TIMEOUT,
        "push_timeout": PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT,
        "max_image_bytes": PHOTOSYNC_MAX_IMAGE_BYTES,
    },
}

PHOTOSYNC_METRICS_TOKEN = read("PHOTOSYNC_METRICS_TOKEN")
PHOTOSYNC_METRICS_PUBLIC = read("PHOTOSYNC_METRICS_PUBLIC")
PHOTOSYNC_TRUSTED_PROXIES = read("PHOTOSYNC_TRUSTED_PROXIES")

# Login throttling (django-axes), in the database so every gunicorn worker and replica sees
# the same failures: 10 failures for one account, or from one address, with no 15-minute
# pause between them lock that account or address for 15 minutes after the last one; every
# attempt meanwhile, the right password included, gets 429 with Retry-After (views.login).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # Retry-After is a promise
AXES_LOCKOUT_CALLABLE = "photosync.views.login.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "photosync.views.login.client_address"
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not kept (the table would only grow)

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

LOG_LEVEL = read("LOG_LEVEL")
# "json" writes one JSON object per line, with store_id/product_id/job_id when known.
LOG_FORMAT = read("LOG_FORMAT")
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
