from django.core.management.base import BaseCommand, CommandError

from integrations.errors import IntegrationError
from photosync.services.woocommerce.connect import ConnectError, woocommerce_store_connect


class Command(BaseCommand):
    help = (
        "Connect a WooCommerce store with a REST API key made in WooCommerce → Settings → "
        "Advanced → REST API (read/write). The key is checked against the store, stored "
        "encrypted, and the store's product webhooks are created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the store's address")
        parser.add_argument("--key", required=True, help="consumer key (ck_...)")
        parser.add_argument("--secret", required=True, help="consumer secret (cs_...)")
        parser.add_argument("--name", default="")

    def handle(self, *args, url: str, key: str, secret: str, name: str, **options):
        try:
            store = woocommerce_store_connect(
                url=url, consumer_key=key.strip(), consumer_secret=secret.strip(), name=name
            )
        except (ConnectError, IntegrationError) as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Connected WooCommerce store {store.pk} at {store.domain}")
