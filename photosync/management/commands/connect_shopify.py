from django.core.management.base import BaseCommand, CommandError

from integrations.errors import IntegrationError
from photosync.services.shopify.auth import shopify_connect_custom_app


class Command(BaseCommand):
    help = (
        "Connect a Shopify store through a custom app's Admin API access token "
        "(shpat_…, from the store's Settings → Apps → Develop apps). The token is checked "
        "against the store, then kept encrypted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="NAME.myshopify.com")
        parser.add_argument("--access-token", required=True, help="the Admin API access token")
        parser.add_argument("--name", default="", help="a display name (default: the shop's)")
        parser.add_argument("--no-verify", action="store_true",
                            help="store the token without calling the shop first")

    def handle(self, *args, shop: str, access_token: str, name: str, no_verify: bool,
               **options):
        try:
            store = shopify_connect_custom_app(shop=shop, access_token=access_token.strip(),
                                               name=name, verify=not no_verify)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except IntegrationError as exc:
            raise CommandError(f"{shop}: {exc.message}") from None
        self.stdout.write(f"Connected Shopify store {store.pk} ({store.domain})")
