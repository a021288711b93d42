"""The settings table: one row per environment variable, in the README's order.

Meanings are Markdown: the README shows them as written, `.env.example` wraps them into
comments (never splitting a `code span`). A default that settings.py computes from other
settings is described in `shown_default`. After changing a row run
`python -m photosync.settings_table --write`.
"""

from __future__ import annotations

from photosync.settings_table.platform_rows import PLATFORM_SETTINGS
from photosync.settings_table.setting import (
    ALL,
    MODELS,
    STORES,
    SYNCD,
    WEB,
    WORKERS,
    Setting,
)
from photosync.settings_table.setting import (
    group as _group,
)

SETTINGS: tuple[Setting, ...] = (
    *_group(
        "Required",
        Setting("SECRET_KEY", "str", None,
                "Django's signing key (sessions, CSRF, signed page tokens). Generate one with "
                "`python -c \"import secrets; print(secrets.token_urlsafe(50))\"`.",
                ALL, required=True, secret=True),
        Setting("PHOTOSYNC_ENCRYPTION_KEY", "list", None,
                "Fernet key(s) that encrypt store credentials at rest. Separate several with "
                "commas, newest first, to rotate keys. Generate one with `python -c \"from "
                "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"`.",
                ALL, required=True, secret=True),
        Setting("PHOTOSYNC_PUBLIC_URL", "url", None,
                "The public origin that stores download media from, such as "
                "`https://photos.example.com` (https in production).",
                ALL, required=True),
    ),
    *_group(
        "Database and broker",
        Setting("DATABASE_URL", "url", None,
                "PostgreSQL in production, such as `postgres://user:password@host:5432/db`.",
                ALL, secret=True, shown_default="a SQLite file in `PHOTOSYNC_DATA_DIR`"),
        Setting("DATABASE_CONN_MAX_AGE", "int", 60,
                "Seconds to keep PostgreSQL connections open.", ALL, minimum=0),
        Setting("REDIS_URL", "url", None,
                "The Dramatiq Redis broker in production, such as `redis://redis:6379/0`.",
                ALL, secret=True, shown_default="the in-process broker"),
        Setting("PHOTOSYNC_QUEUE_NAMESPACE", "str", "photosync",
                "Prefix of the broker's Redis keys. Every process of one installation uses "
                "the same.", ALL),
        Setting("PHOTOSYNC_BROKER_HEARTBEAT_TIMEOUT", "int", 60000,
                "Redis broker, in ms: after this long, a silent worker's unacknowledged "
                "messages are delivered again.", ALL, minimum=1),
        Setting("PHOTOSYNC_BROKER_MAINTENANCE_CHANCE", "int", 1000,
                "Redis broker: how many fetches per million also run that redelivery.",
                ALL, minimum=0),
    ),
    *_group(
        "Web, logs and metrics",
        Setting("DEBUG", "bool", False,
                "Django debug mode. Never turn it on in production.", ALL),
        Setting("ALLOWED_HOSTS", "list", None,
                "Host names the web server answers to, comma-separated.", WEB,
                shown_default="the host of `PHOTOSYNC_PUBLIC_URL`, 127.0.0.1, localhost"),
        Setting("CSRF_TRUSTED_ORIGINS", "list", None,
                "Origins trusted for form posts, comma-separated.", WEB,
                shown_default="`PHOTOSYNC_PUBLIC_URL`"),
        Setting("PHOTOSYNC_ENV_FILE", "path", None,
                "The file that settings are read from; the environment wins over it.", ALL,
                shown_default="`.env` beside manage.py"),
        Setting("LOG_LEVEL", "str", "INFO", "Root log level.", ALL,
                choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
        Setting("LOG_FORMAT", "str", "plain",
                "`json` writes one JSON object per line, with `store_id`, `product_id` and "
                "`job_id` when known. Configured secrets are replaced with `[redacted]` in "
                "every line.", ALL, choices=("plain", "json")),
        Setting("PHOTOSYNC_METRICS_TOKEN", "str", "",
                "The bearer token Prometheus sends: `GET /metrics` then requires "
                "`Authorization: Bearer <token>`. Unset: `/metrics` answers 404 (unless "
                "`PHOTOSYNC_METRICS_PUBLIC`).", WEB, secret=True),
        Setting("PHOTOSYNC_METRICS_PUBLIC", "bool", False,
                "`true` serves `/metrics` without a token, for a deployment whose metrics "
                "port only an internal scraper reaches. It lists per-store job counts and "
                "queue depths.", WEB),
        Setting("PHOTOSYNC_TRUSTED_PROXIES", "int", 0,
                "How many proxies in front of `web` append to `X-Forwarded-For` (an ingress: "
                "1). Login throttling counts failures per client address; 0 takes the "
                "connection's own address.", WEB, minimum=0),
        Setting("PROMETHEUS_MULTIPROC_DIR", "path", None,
                "prometheus_client's own variable: an empty folder where the processes of "
                "one host (gunicorn workers, Dramatiq processes) write their metrics, so "
                "`/metrics` adds them up.", ALL),
    ),
    *_group(
        "Files and media",
        Setting("PHOTOSYNC_DATA_DIR", "path", None,
                "Holds the SQLite file, media and the demo store.", ALL,
                shown_default="`var/` beside manage.py"),
        Setting("PHOTOSYNC_MEDIA_ROOT", "path", None,
                "Originals and generated images on the local filesystem.", ALL,
                shown_default="`PHOTOSYNC_DATA_DIR/media`"),
        Setting("PHOTOSYNC_STATIC_ROOT", "path", None,
                "Where `collectstatic` writes files, for container images.",
                ("web", "image build")),
        Setting("PHOTOSYNC_S3_BUCKET", "str", "",
                "Keep media in this S3-compatible bucket instead (the `s3` extra). It is "
                "private: generated images are still served at `/media/`. See "
                "docs/operations.md, \"Media storage\".", ALL),
        Setting("PHOTOSYNC_S3_ENDPOINT_URL", "url", None,
                "The bucket's endpoint for non-AWS services, such as "
                "`https://minio.internal:9000`.", ALL),
        Setting("PHOTOSYNC_S3_REGION", "str", None, "The bucket's region.", ALL),
        Setting("PHOTOSYNC_S3_PREFIX", "str", "",
                "A key prefix inside the bucket (several installations can share one).", ALL),
        Setting("PHOTOSYNC_S3_ADDRESSING_STYLE", "str", None,
                "`path` for services without virtual-hosted buckets.", ALL,
                choices=("auto", "virtual", "path")),
        Setting("AWS_ACCESS_KEY_ID", "str", "",
                "boto3's own variable, for the S3 bucket; any other boto3 credential source "
                "(an instance role, a workload identity) works too.", ALL, secret=True),
        Setting("AWS_SECRET_ACCESS_KEY", "str", "",
                "boto3's own variable: the secret of `AWS_ACCESS_KEY_ID`.", ALL, secret=True),
    ),
    *_group(
        "One-machine mode",
        Setting("PHOTOSYNC_ADMIN_USER", "str", "",
                "The operator account that `serve` creates and keeps in sync (with "
                "`PHOTOSYNC_ADMIN_PASSWORD`).", ("serve",)),
        Setting("PHOTOSYNC_ADMIN_PASSWORD", "str", "",
                "That account's password.", ("serve",), secret=True),
        Setting("PHOTOSYNC_WORKER_THREADS", "int", 2,
                "Worker threads inside `serve`.", ("serve",), minimum=1),
    ),
    *_group(
        "Image pipeline",
        Setting("PHOTOSYNC_SEGMENTER", "str", "classical",
                "`classical`, `auto`, `rembg:<model>` or `rembg-file:<path>`. Every process "
                "must agree: it decides a job's queue. Also a build argument of the images.",
                (*ALL, "image build")),
        Setting("PHOTOSYNC_SCENE_GENERATOR", "str", "procedural",
                "`procedural` or `diffusers:<hub id or folder>`. A diffusers generator sends "
                "jobs to the `generate-gpu` queue. Every process must agree; also a build "
                "argument of the GPU image.", (*ALL, "image build")),
        Setting("PHOTOSYNC_GPU_SEGMENTER", "str", "rembg:birefnet-general",
                "The segmenter of jobs on the `generate-gpu` queue (those with a `diffusers:` "
                "scene generator); the default is the model registry's GPU-tier cutout "
                "(`manage.py models`). Every process must agree; also a build argument of "
                "the GPU image, which prefetches it.", (*ALL, "image build")),
        Setting("PHOTOSYNC_SEGMENTER_FALLBACK", "list", ("rembg:isnet-general-use", "classical"),
                "Segmenters tried in order when a job's own cannot run (model missing or "
                "failing, no GPU worker alive, hosted API down, rate limited or out of "
                "credits), such as `removebg,classical`. The output records which one "
                "removed the background and why, and is flagged for review. `none` turns "
                "the chain off. Also a build argument of the GPU image, which prefetches "
                "each link.", (*ALL, "image build")),
        Setting("PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS", "bool", False,
                "`serve`, `worker` and `process` refuse to start when a setting names a "
                "model whose licence forbids commercial use (such as rembg's default "
                "`bria-rmbg`, FLUX.1 [dev] or SDXL-Turbo; `manage.py models` lists them). "
                "`true` allows them: only for non-commercial use, or with the rights "
                "holder's licence.", (*WORKERS, "serve")),
        Setting("PHOTOSYNC_HARMONIZE", "str", "off",
                "Harmonisation of scene outputs: `off`, or `grade` (match the scene's light on "
                "the product with one bounded grade: per-channel gain in linear light within "
                "8% and exposure within 0.3 EV; the mask is unchanged). Graded outputs are "
                "flagged `relit` and never auto-approved; framed and marketplace outputs are "
                "never graded. `relight:<model>` (a relighting model) is refused at start-up: "
                "not supported yet. A store may set its own (`harmonize`).", ALL),
        Setting("PHOTOSYNC_MAX_IMAGE_BYTES", "int", 40 * 1024 * 1024,
                "Larger source files are refused before they are decoded.", ALL, minimum=1),
        Setting("PHOTOSYNC_MAX_IMAGE_PIXELS", "int", 50_000_000,
                "Protection against decompression bombs.", WORKERS, minimum=1),
        Setting("PHOTOSYNC_PNG_COMPRESSION", "int", 2,
                "zlib level (0–9) of PNG outputs and masks: seconds against bytes, never "
                "pixels (PNG is lossless). For a framed output and 4 scenes at 2048² on one "
                "core: 2 encodes them in about 0.3 s; 6 takes about 3.5× as long for files "
                "about 14 % smaller; 0 writes them uncompressed (about 9× the bytes). "
                "`bench/pipeline.py --encode` measures each level.", WORKERS, minimum=0),
        Setting("PHOTOSYNC_DEVICE", "str", "cpu",
                "Where this worker runs models. GPU workers use `cuda` and refuse to start "
                "when the GPU or a configured model is missing.", WORKERS),
        Setting("PHOTOSYNC_DTYPE", "str", "float32",
                "Model precision; `float16` or `bfloat16` on GPUs.", WORKERS),
        Setting("PHOTOSYNC_AUTO_MODEL", "str", "u2net",
                "The rembg model that segmenter `auto` uses when the backdrop is not plain.",
                WORKERS),
        Setting("PHOTOSYNC_SECOND_OPINION", "str", "",
                "A second segmenter, such as `rembg:isnet-general-use`, that cuts every photo "
                "out again beside the first (classical): where the two masks overlap under "
                "90% (IoU) the outputs are flagged `mask_uncertain`, so a hole or a kept "
                "shadow does not pass as right. Costs one more model run per photo (about "
                "1–3 s on a CPU core for a rembg model). Empty: off. A model that cannot "
                "load is skipped with a note.", WORKERS),
        Setting("PHOTOSYNC_ALPHA_MATTING", "bool", False,
                "Refine cutout edges with alpha matting: about 1–2 s more per megapixel.",
                WORKERS),
        Setting("PHOTOSYNC_SCENE_STEPS", "int", None,
                "Diffusion steps for model scenes. Unset: the model's own from the registry "
                "(`manage.py models`: 4 for FLUX.2 [klein], 8 for Z-Image-Turbo, 25 for SDXL "
                "inpainting), 25 for a model it does not list.", WORKERS, minimum=1),
        Setting("PHOTOSYNC_SCENE_GUIDANCE", "float", None,
                "Diffusion guidance for model scenes. Unset: the model's own from the "
                "registry, 7.0 for a model it does not list.", WORKERS, minimum=0),
        Setting("PHOTOSYNC_SCENE_SCHEDULER", "str", None,
                "A diffusers scheduler class name.", WORKERS,
                shown_default="the model's own"),
        Setting("PHOTOSYNC_SCENE_LORA", "str", None,
                "A few-step LoRA for model scenes: a hub id or a folder.", WORKERS),
        Setting("PHOTOSYNC_SCENE_SIZE", "int", None,
                "The long side for generation, a multiple of 8.", WORKERS, minimum=0,
                shown_default="the model's native size"),
        Setting("PHOTOSYNC_SCENE_DEADLINE", "float", 300.0,
                "Seconds one scene generation may take. It is checked between denoising "
                "steps.", WORKERS, minimum=0),
        Setting("U2NET_HOME", "path", None,
                "rembg's own variable: the folder of its model files (the images use "
                "`/models/rembg`). Nothing is downloaded at run time.", MODELS,
                shown_default="rembg's default (`REMBG_HOME`, else `~/.rembg`)"),
        Setting("REMBG_HOME", "path", None,
                "rembg's newer name for that folder, used when `U2NET_HOME` is unset.",
                MODELS, shown_default="`~/.rembg`"),
        Setting("HF_HOME", "path", None,
                "Hugging Face's own variable: the cache of diffusers models (the images use "
                "`/models/huggingface`).", MODELS, shown_default="`~/.cache/huggingface`"),
        Setting("HF_HUB_OFFLINE", "bool", False,
                "Hugging Face's own variable: `1` (the images' setting) forbids downloads, "
                "so a missing model fails the worker's start instead of a job.", MODELS),
    ),
    *_group(
        "Hosted cutout APIs",
        Setting("PHOTOSYNC_REMOVEBG_API_KEY", "str", None,
                "remove.bg API key, for segmenter `removebg` (a fallback tier: the photo "
                "leaves this host, and each call costs credits).", WORKERS, secret=True),
        Setting("PHOTOSYNC_REMOVEBG_URL", "url", "https://api.remove.bg/v1.0/removebg",
                "remove.bg's endpoint; change it only for a proxy or a test server.", WORKERS),
        Setting("PHOTOSYNC_REMOVEBG_PRICE", "float", 0.20,
                "USD per remove.bg credit, your plan's price: each output records "
                "`segmenter_cost_usd` (credits charged × price).", WORKERS, minimum=0),
        Setting("PHOTOSYNC_PHOTOROOM_API_KEY", "str", None,
                "Photoroom API key, for segmenter `photoroom` (Remove Background API, Basic "
                "plan).", WORKERS, secret=True),
        Setting("PHOTOSYNC_PHOTOROOM_URL", "url", "https://sdk.photoroom.com/v1/segment",
                "Photoroom's segment endpoint; change it only for a proxy or a test server.",
                WORKERS),
        Setting("PHOTOSYNC_PHOTOROOM_PRICE", "float", 0.02,
                "USD per Photoroom image, your plan's price.", WORKERS, minimum=0),
        Setting("PHOTOSYNC_HOSTED_TIMEOUT", "float", 30.0,
                "Seconds a hosted API call may take before the next segmenter runs.", WORKERS,
                minimum=1),
        Setting("PHOTOSYNC_HOSTED_BREAKER_FAILURES", "int", 3,
                "Failed calls in a row (timeouts, HTTP 5xx) after which a worker process "
                "stops calling that API for the cool-down. A rate limit (429), an empty "
                "account (402) or a rejected key open it at once.", WORKERS, minimum=1),
        Setting("PHOTOSYNC_HOSTED_BREAKER_COOLDOWN", "float", 60.0,
                "Seconds an API stays paused before one probe call tests it again (at least "
                "its `Retry-After`).", WORKERS, minimum=0),
    ),
    *_group(
        "Sync and scheduling",
        Setting("PHOTOSYNC_SYNC_INTERVAL", "float", 10.0,
                "Seconds between sync passes (`syncd --interval` wins).", SYNCD, minimum=0),
        Setting("PHOTOSYNC_SWEEP_INTERVAL", "float", 6 * 3600.0,
                "Seconds between full catalog sweeps of a store; the watermark pass runs "
                "every sync interval. Webhooks and watermarks both miss things.", SYNCD,
                minimum=0),
        Setting("PHOTOSYNC_BACKFILL_THRESHOLD", "int", 200,
                "A first sync of a catalog larger than this is queued as backfill: lowest "
                "priority, and only inside the store's off-peak window (store setting "
                "`offpeak`, such as `\"01:00-06:00\"`, in the store's time zone).", SYNCD,
                minimum=0),
        Setting("PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT", "int", 4,
                "How many CPU generation jobs sit in the broker at once. The rest wait in the "
                "database, where the dispatcher orders them fairly across stores. Set it to "
                "about twice the worker threads that serve the queue.", SYNCD, minimum=1),
        Setting("PHOTOSYNC_DISPATCH_GPU_IN_FLIGHT", "int", 2,
                "The same for GPU generation jobs: about twice the GPU workers.", SYNCD,
                minimum=1),
        Setting("PHOTOSYNC_PUSH_RETRY_MAX_DELAY", "float", 60.0,
                "Seconds: the longest wait between two tries of a push whose store cannot be "
                "reached. The wait grows with the outage up to this, and the push keeps "
                "trying until the store answers, so it lands within about this long of the "
                "store's return.", ("worker",), minimum=1),
        Setting("PHOTOSYNC_APPROVE_UNDO_SECONDS", "float", 10.0,
                "Seconds a merchant's approval of one output waits before its push starts, so "
                "that the page's Undo can take it back (the Undo shows as long). 0 pushes at "
                "once; bulk and automatic approvals never wait.", ("web",), minimum=0),
        Setting("PHOTOSYNC_DELAY_BANNER_AFTER", "int", 120,
                "The review queue shows \"New products take about N minutes right now\" when "
                "a new product's estimated time to its images (the generation jobs ahead of "
                "it, at the last hour's throughput, plus its own processing) exceeds this "
                "many seconds.", ("web",), minimum=0),
        Setting("PHOTOSYNC_HEALTH_INTERVAL", "float", 900.0,
                "Seconds between store health checks (across all daemons): WooCommerce "
                "webhooks are re-activated or re-created, and Shopify access tokens that "
                "expire before the next check are refreshed.", SYNCD, minimum=0),
    ),
    *_group(
        "Workers and GPU fallback",
        Setting("PHOTOSYNC_HEARTBEAT_INTERVAL", "float", 10.0,
                "Seconds between a worker's heartbeats.", WORKERS, minimum=0),
        Setting("PHOTOSYNC_WORKER_DEAD_AFTER", "float", 60.0,
                "A worker silent for longer is dead, and its running jobs are taken over.",
                ("web", "syncd"), minimum=0),
        Setting("PHOTOSYNC_GPU_DEAD_AFTER", "float", 120.0,
                "How long without a GPU heartbeat before GPU work is rerouted.", SYNCD,
                minimum=0),
        Setting("PHOTOSYNC_GPU_FALLBACK", "str", "cpu",
                "What happens to GPU work when no GPU worker is alive, or when a GPU stage "
                "fails for good. `cpu` runs it with procedural scenes, cut out by the next "
                "segmenter of `PHOTOSYNC_SEGMENTER_FALLBACK` (classical without one). `hold` "
                "makes it wait. Either way the reason is recorded on the job.",
                ("worker", "gpu-worker", "syncd"), choices=("cpu", "hold")),
        Setting("PHOTOSYNC_WORKER_QUEUES", "list", None,
                "The queues of this worker process, set by `manage.py worker`; with "
                "`generate-gpu` among them the process loads its models at start and refuses "
                "to start without them. Set it yourself only when starting "
                "`dramatiq photosync.worker_boot` directly.", WORKERS),
    ),
    *_group(
        "Outbound connections",
        Setting("PHOTOSYNC_ALLOWED_NETWORKS", "list", (),
                "Comma-separated CIDRs PhotoSync may connect to besides public addresses, "
                "for every outbound call (store APIs, OAuth, image downloads and uploads), "
                "such as `10.0.0.0/8` for an on-premise store or `127.0.0.0/8` for "
                "emulators. Private, local and reserved addresses are refused otherwise, "
                "checked on every connection.", STORES),
        Setting("PHOTOSYNC_DOWNLOAD_DEADLINE", "float", 60.0,
                "Seconds one image download from a store may take in all, redirects "
                "included (besides the size cap `PHOTOSYNC_MAX_IMAGE_BYTES`).", STORES,
                minimum=1),
    ),
    *_group(
        "Energy and grid carbon",
        Setting("PHOTOSYNC_CPU_WATTS_PER_CORE", "float", 3.5,
                "Watts of one busy CPU core, for the CPU energy estimate (CPU seconds × this) "
                "where RAPL counters are not readable. The default is Cloud Carbon "
                "Footprint's average for an AWS vCPU at 100 % load. See docs/operations.md, "
                "\"Energy and carbon\".", WORKERS, minimum=0.01),
        Setting("CUDA_VISIBLE_DEVICES", "str", None,
                "CUDA's own variable: the GPUs a process sees, by index or UUID. GPU energy "
                "is read (NVML) from the first of them, the GPU that is torch's `cuda:0`.",
                ("gpu-worker",), shown_default="every GPU; energy is read from GPU 0"),
        Setting("PHOTOSYNC_GRID_INTENSITY", "float", 481.0,
                "Grid carbon intensity in g CO₂e/kWh: used when no URL is set, and whenever "
                "the URL fails. The default is the 2023 world average (Ember, Global "
                "Electricity Review 2024).", ALL, minimum=0),
        Setting("PHOTOSYNC_GRID_INTENSITY_URL", "url", None,
                "A URL answering the current intensity and a forecast as JSON (the shape is "
                "in docs/operations.md). Needed for clean-grid backfills.", ALL),
        Setting("PHOTOSYNC_GRID_INTENSITY_TOKEN", "str", "",
                "Sent as `Authorization: Bearer <token>` to that URL, when set.", ALL,
                secret=True),
        Setting("PHOTOSYNC_GRID_INTENSITY_TIMEOUT", "float", 3.0,
                "Seconds to wait for that URL.", ALL, minimum=0.1),
        Setting("PHOTOSYNC_GRID_INTENSITY_CACHE", "float", 900.0,
                "Seconds each process keeps the URL's answer. A failed fetch is tried again "
                "after a minute at most; until then the setting's value is used.", ALL,
                minimum=0),
        Setting("PHOTOSYNC_CLEAN_GRID_HOURS", "float", 2.0,
                "For stores that run backfills when the grid is cleanest: how many of the "
                "forecast's lowest-intensity hours of the off-peak window are used.", ALL,
                minimum=0.25),
    ),
    *PLATFORM_SETTINGS,
)
