"""config.wsgi's own handler for the receive URL: short middleware chain, no URLconf walk, same answers.

Driven through `config.wsgi.application` itself (the test client has its own handler and would not see it).
"""

from __future__ import annotations

import io
import json
import sys
from unittest import mock

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls.resolvers import URLResolver

from config.wsgi import application
from tests.webhooks.inbound_support import raw_order, receive_url, shopify_delivery
from webhooks.models import IncomingWebhook

pytestmark = pytest.mark.django_db


def _call(path: str, body: bytes = b"", headers: dict[str, str] | None = None, method: str = "POST"):
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "testserver", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "testserver", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer: dict = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

    # As the test client does: the test's own database connection stays open across the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        answer["body"] = b"".join(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer


def test_a_delivery_is_stored_without_walking_the_urlconf(shop, nudges):
    _call(receive_url(shop.route_key), *shopify_delivery(raw_order()))  # the first one resolves once
    body, headers = shopify_delivery(raw_order(id=5151))
    with mock.patch.object(URLResolver, "resolve", autospec=True, side_effect=URLResolver.resolve) as resolving:
        answer = _call(receive_url(shop.route_key), body, headers)
    assert answer["status"] == 202, answer
    assert resolving.call_count == 0
    stored = IncomingWebhook.objects.get(pk=json.loads(answer["body"])["id"])
    assert (stored.integration_id, stored.external_id) == (shop.pk, headers["X-Shopify-Webhook-Id"])


def test_the_view_sees_the_match_the_resolver_would_give(shop, nudges):
    from django.urls import resolve

    seen = []
    with mock.patch("webhooks.inbound.views._at_route_key",
                    side_effect=lambda request, route_key: seen.append(request.resolver_match) or
                    _json_ok()):
        _call(receive_url(shop.route_key), b"{}")
        _call(receive_url(shop.route_key), b"{}")
    expected = resolve(receive_url(shop.route_key))
    for match in seen:
        assert (match.func, match.kwargs, match.url_name, match.route, match.view_name) == (
            expected.func, expected.kwargs, expected.url_name, expected.route, expected.view_name)


def _json_ok():
    from django.http import HttpResponse

    return HttpResponse(b"{}", status=202, content_type="application/json")


def test_an_unknown_route_key_and_a_malformed_one_are_answered_as_before(shop, nudges):
    unknown = _call(receive_url("no-such-route"), b"{}")
    assert unknown["status"] == 404
    assert json.loads(unknown["body"])["error"]["code"] == "INTEGRATION_NOT_FOUND"
    malformed = _call("/api/webhooks/receive/bad.key/", b"{}")
    assert malformed["status"] == 404  # no route matches: the resolver's answer, nothing stored
    assert not IncomingWebhook.objects.exists()


def test_only_the_receive_address_takes_the_short_chain(shop, nudges):
    received = _call(receive_url(shop.route_key), *shopify_delivery(raw_order()))
    other = _call("/api/integrations/", method="GET")
    assert received["status"] == 202 and other["status"] in (401, 403)
    assert "X-Frame-Options" not in received["headers"]  # the clickjacking middleware is not in its chain
    assert other["headers"]["X-Frame-Options"] == "DENY"
    assert received["headers"]["X-Content-Type-Options"] == "nosniff"  # the security middleware is
