import os
import shutil
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from photosync.queueing import Queues
from photosync.services.generation_config import models_licence_check


def queue_prefetch(threads: int, per_thread: int = 1) -> int:
    """Messages one worker process takes from each queue before it has finished them."""
    return max(1, threads) * max(1, per_thread)


class Command(BaseCommand):
    help = (
        "Run Dramatiq workers against REDIS_URL (production). CPU workers take the default "
        "queues; a GPU worker takes --queues generate-gpu --processes 1 --threads 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--queues", default=",".join(Queues.CPU))
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--threads", type=int, default=2)
        parser.add_argument(
            "--prefetch", type=int, default=1,
            help="messages a process holds per thread and queue, the running one included",
        )
        parser.add_argument(
            "--poll-ms", type=int, default=100,
            help="longest wait between two polls of an idle queue (Dramatiq's default is 1000)",
        )

    def handle(self, *args, queues, processes, threads, prefetch, poll_ms, **options):
        try:
            models_licence_check()
        except ImproperlyConfigured as exc:
            raise CommandError(f"PhotoSync refuses to start: {exc}") from None
        if not settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is not set: separate workers need the Redis broker. "
                "On one machine, `manage.py serve` runs worker threads itself."
            )
        unknown = set(queues.split(",")) - set(Queues.ALL)
        if unknown:
            raise CommandError(f"Unknown queues {sorted(unknown)}; known: {list(Queues.ALL)}")
        if prefetch < 1:
            raise CommandError("--prefetch must be at least 1")
        # Dramatiq's default holds 2 x threads messages per queue in each process. A process
        # whose threads are all busy then keeps messages it cannot start (a generation job
        # stayed `dispatched` for minutes behind a running one while other processes were
        # idle, and the dispatcher's in-flight bound counted it). One per thread: a message
        # waits in Redis, where any free process takes it, until a thread is free for it.
        os.environ["dramatiq_queue_prefetch"] = str(queue_prefetch(threads, prefetch))
        os.environ["PHOTOSYNC_WORKER_QUEUES"] = queues
        # An idle consumer's poll backoff grows to this ceiling, and a product crosses two
        # queues (webhooks, then generate-cpu) before its work starts: at Dramatiq's 1 s the
        # hops were most of a lone product's overhead (bench/end_to_end.py: 656 ms p50 vs
        # 111 ms at 100 ms), for about 3 % of a core per idle worker process.
        os.environ.setdefault("dramatiq_worker_timeout", str(poll_ms))
        dramatiq_bin = shutil.which("dramatiq") or os.path.join(
            os.path.dirname(sys.executable), "dramatiq"
        )
        argv = [
            dramatiq_bin, "photosync.worker_boot",
            "--processes", str(processes), "--threads", str(threads),
            "--queues", *queues.split(","),
        ]
        os.execv(dramatiq_bin, argv)
