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
import re

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.urls import ResolverMatch, resolve
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

RECEIVE_PREFIX = "/api/webhooks/receive/"
# What the URLconf's `webhooks/receive/<slug:route_key>/` matches (the slug converter's pattern).
RECEIVE_PATH = re.compile(r"/api/webhooks/receive/(?P<route_key>[-a-zA-Z0-9_]+)/\Z")
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
        self._receive_match: ResolverMatch | None = None

    def resolve_request(self, request):
        """The receive view without walking the URLconf (about a tenth of the request's CPU): the same match the
        resolver returns for that path, made once and copied with the request's route key. Any other path under
        the prefix (a malformed key) goes through the resolver, which answers it as before."""
        found = RECEIVE_PATH.match(request.path_info)
        if found is None:
            return super().resolve_request(request)
        if self._receive_match is None:
            self._receive_match = resolve(request.path_info)
        template = self._receive_match
        match = ResolverMatch(template.func, (), found.groupdict(), url_name=template.url_name,
                              app_names=template.app_names, namespaces=template.namespaces, route=template.route,
                              tried=template.tried, captured_kwargs=found.groupdict())
        request.resolver_match = match
        return match


def _application():
    full = get_wsgi_application()
    receive = ReceiveHandler()

    def application(environ, start_response):
        handler = receive if environ.get("PATH_INFO", "").startswith(RECEIVE_PREFIX) else full
        return handler(environ, start_response)

    return application


application = _application()
