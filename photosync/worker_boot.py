"""Module the `dramatiq` CLI imports in each worker process: set up Django, register actors."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "photosync.settings")
django.setup()  # PhotoSyncConfig.ready() imports photosync.jobs, which binds the broker

# A GPU worker loads its models now and refuses to start when its GPU or a model is missing,
# rather than failing (or silently running on the CPU) at the first job.
if "generate-gpu" in os.environ.get("PHOTOSYNC_WORKER_QUEUES", "").split(","):
    import sys

    from photosync.services.generation_config import worker_pipeline_config
    from pipeline import PipelineError, prepare
    from pipeline.energy import meter

    try:
        for note in prepare(worker_pipeline_config(gpu=True)):
            print(f"photosync gpu-worker: {note}", file=sys.stderr)
        for note in meter().describe(gpu=True):  # e.g. "GPU energy: NVML on NVIDIA H200"
            print(f"photosync gpu-worker: {note}", file=sys.stderr)
    except PipelineError as exc:
        print(f"photosync gpu-worker refuses to start: {exc}", file=sys.stderr)
        raise SystemExit(3) from None
