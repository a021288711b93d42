"""WSGI entry point for gunicorn (`gunicorn photosync.wsgi`) and `manage.py serve`.

Webhook deliveries (`/webhooks/…`) go through their own Django handler with only the
middleware a delivery needs (settings.WEBHOOK_MIDDLEWARE): no session, CSRF, user, messages,
static files or login throttling, which a signed, cookie-less POST from a platform never
uses. Everything else gets settings.MIDDLEWARE. Both handlers resolve the same URLs, and a
webhook view works the same through either (the test client uses the full one).
"""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "photosync.settings")

WEBHOOK_PREFIX = "/webhooks/"


class WebhookHandler(WSGIHandler):
    """A WSGIHandler whose chain is settings.WEBHOOK_MIDDLEWARE: Django's own
    load_middleware, synchronous path, over another list (it reads only MIDDLEWARE)."""

    def load_middleware(self, is_async=False):
        from django.conf import settings

        if is_async:
            raise ImproperlyConfigured("the webhook handler serves WSGI only")
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(settings.WEBHOOK_MIDDLEWARE):
            middleware = import_string(path)(handler)
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._template_response_middleware.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler


class Application:
    """Send `/webhooks/…` to the webhook handler, the rest to the full one."""

    def __init__(self) -> None:
        self.full = get_wsgi_application()  # sets Django up
        self.webhooks = WebhookHandler()

    def __call__(self, wsgi_env, start_response):
        webhook = wsgi_env.get("PATH_INFO", "").startswith(WEBHOOK_PREFIX)
        return (self.webhooks if webhook else self.full)(wsgi_env, start_response)


application = Application()
