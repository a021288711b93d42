import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from photosync import syncd


class Command(BaseCommand):
    help = "Run the storefront sync daemon (reconciles every store); --once for a single pass."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=None)

    def handle(self, *args, once: bool, interval: float | None, **options):
        if once:
            self.stdout.write(str(syncd.tick()))
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        syncd.run(interval=interval or settings.PHOTOSYNC_SYNC_INTERVAL, stop=stop)
