"""The WSGI entry point: the receive URL of webhooks through a short middleware chain, everything else the full one.

Providers post webhooks to `/api/webhooks/receive/<route key>/` by the
thousand; the view needs no session, user, CSRF token, messages, lockout or
clickjacking header (it is signed, not signed in). So those requests go
through a handler whose chain is RECEIVE_MIDDLEWARE: the security headers,
the /api/ guards (NUL bytes refused, a lost database answered 503) and the
Host check (ALLOWED_HOSTS). Anything
else, the app-level webhook addresses included, takes settings.MIDDLEWARE.
"""

import os

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

RECEIVE_PREFIX = "/api/webhooks/receive/"
RECEIVE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ApiGuardMiddleware",
    "django.middleware.common.CommonMiddleware",  # ALLOWED_HOSTS, as for every other request
]


class ReceiveHandler(WSGIHandler):
    """Django's WSGI handler with RECEIVE_MIDDLEWARE as its chain (sync middleware only, as these are)."""

    def load_middleware(self, is_async=False):
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(RECEIVE_MIDDLEWARE):
            middleware = import_string(path)(handler)
            if hasattr(middleware, "process_view"):
                self._view_middleware.insert(0, middleware.process_view)
            if hasattr(middleware, "process_exception"):
                self._exception_middleware.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._middleware_chain = handler


def _application():
    full = get_wsgi_application()
    receive = ReceiveHandler()

    def application(environ, start_response):
        handler = receive if environ.get("PATH_INFO", "").startswith(RECEIVE_PREFIX) else full
        return handler(environ, start_response)

    return application


application = _application()
