#!/usr/bin/env bash
# PhotoSync container entrypoint: one role per container, as the README's process map names
# them. Every role execs its process, so signals (SIGTERM on scale-down) reach it directly; tini
# (the image's PID 1) reaps zombies.
#
#   web              gunicorn photosync.wsgi on 0.0.0.0:$PORT ($WEB_CONCURRENCY workers)
#   worker           Dramatiq workers on the CPU queues ($WORKER_QUEUES, $WORKER_PROCESSES,
#                    $WORKER_THREADS)
#   gpu-worker       Dramatiq on generate-gpu: one process, one thread, prefetch 1 (one per GPU;
#                    not configurable, see /work/shared/docs/pipeline.md "GPU worker")
#   syncd            the storefront sync daemon (safe to run more than one)
#   migrate          apply database migrations, then exit
#   prefetch-models  download configured model weights into the model cache, then exit
#   healthcheck [PATH]  exit 0 when this container's web server answers PATH (default /healthz)
#                    with 200
#   anything else    exec'd as given (e.g. `python manage.py shell`)
set -euo pipefail

cd "${PHOTOSYNC_APP_DIR:-/app}"
role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    exec gunicorn photosync.wsgi \
      --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_CONCURRENCY:-4}" \
      --worker-class gthread --threads "${WEB_THREADS:-4}" \
      --timeout "${WEB_TIMEOUT:-60}" --graceful-timeout 30 \
      --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" \
      --access-logfile - \
      "$@"
    ;;
  worker)
    exec python manage.py worker \
      --queues "${WORKER_QUEUES:-webhooks,generate-cpu,push,sync}" \
      --processes "${WORKER_PROCESSES:-2}" \
      --threads "${WORKER_THREADS:-2}" \
      "$@"
    ;;
  gpu-worker)
    exec python manage.py worker --queues generate-gpu --processes 1 --threads 1 --prefetch 1
    ;;
  syncd)
    exec python manage.py syncd "$@"
    ;;
  migrate)
    exec python manage.py migrate --noinput "$@"
    ;;
  prefetch-models)
    exec python deploy/prefetch_models.py "$@"
    ;;
  healthcheck)
    exec python -c 'import os, sys, urllib.request
url = "http://127.0.0.1:%s%s" % (os.environ.get("PORT", "8000"), sys.argv[1])
req = urllib.request.Request(url, headers={"Host": "localhost"})
sys.exit(0 if urllib.request.urlopen(req, timeout=5).status == 200 else 1)' "${1:-/healthz}"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
