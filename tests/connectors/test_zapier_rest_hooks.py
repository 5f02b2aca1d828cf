"""Zapier's REST hooks end to end: the auth test, subscribing a target (a real receiver on 127.0.0.1) that then
gets a signed delivery of the next matching event only, unsubscribing that removes it, and the samples."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from connectors import registry
from tests.factories import IntegrationFactory
from tests.webhooks.outbound_support import Receiver, make_endpoint
from webhooks.events import publish
from webhooks.models import WebhookEndpoint
from webhooks.outbound.dispatcher import dispatch_due

pytestmark = pytest.mark.django_db
HOOKS = "/api/zapier/hooks/"


@pytest.fixture(autouse=True)
def _allow_loopback(settings, public_dns):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    settings.WEBHOOK_DELIVERY_TIMEOUT = 3


def test_me_is_the_auth_test(org, viewer_api, client):
    answer = viewer_api.get("/api/zapier/me/")
    assert answer.status_code == 200
    assert answer.json()["organization"] == {"id": org.pk, "slug": org.slug, "name": org.name}
    assert answer.json()["role"] == "viewer" and "…" in answer.json()["api_key"]
    refused = client.get("/api/zapier/me/", HTTP_AUTHORIZATION="Api-Key sy_not-a-key")
    assert refused.status_code == 401 and refused.json()["error"]["code"] in ("AUTHENTICATION_FAILED",
                                                                             "NOT_AUTHENTICATED")


def test_subscribe_delivers_the_next_matching_event_signed_then_unsubscribe_removes_it(org, admin_api):
    with Receiver(200) as receiver:
        answer = admin_api.post(HOOKS, {"target_url": receiver.url, "event": "order.created"}, format="json")
        assert answer.status_code == 201, answer.content
        hook = answer.json()
        endpoint = WebhookEndpoint.objects.get(pk=hook["id"], organization=org)
        assert endpoint.events == ["order.created"] and endpoint.url == receiver.url and endpoint.is_active
        assert hook["secret"].startswith("whsec_")

        integration = IntegrationFactory(organization=org)
        publish("order.updated", {"order": {"id": 6}}, org, integration=integration)  # not subscribed
        publish("order.created", {"order": {"id": 7, "total": "9.90"}}, org, integration=integration)
        dispatch_due(threads=2, run_seconds=5)

        [received] = receiver.requests
        verified = Webhook(hook["secret"]).verify(received.body, received.headers)
        assert verified["type"] == "order.created" and verified["data"] == {"order": {"id": 7, "total": "9.90"}}

        assert admin_api.delete(f"{HOOKS}{hook['id']}/").status_code == 204
        assert not WebhookEndpoint.objects.filter(pk=hook["id"]).exists()
        publish("order.created", {"order": {"id": 8}}, org, integration=integration)
        dispatch_due(threads=2, run_seconds=5)
        assert len(receiver.requests) == 1  # nothing after the unsubscribe


def test_subscribing_twice_is_one_endpoint_and_unsubscribe_by_target_url(org, admin_api):
    body = {"target_url": "https://hooks.zapier.com/hooks/standard/123/abc/", "event": "order.fulfilled"}
    first = admin_api.post(HOOKS, body, format="json")
    again = admin_api.post(HOOKS, body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["secret"] == ""
    assert WebhookEndpoint.objects.filter(organization=org).count() == 1
    gone = admin_api.delete(HOOKS, {"target_url": body["target_url"]}, format="json")
    assert gone.status_code == 204 and not WebhookEndpoint.objects.filter(organization=org).exists()


def test_zapier_cannot_remove_an_endpoint_it_did_not_subscribe_nor_another_organizations(org, other_org, admin_api,
                                                                                         api_client_for):
    mine, _ = make_endpoint(org, "https://erp.example/hook")
    assert admin_api.delete(f"{HOOKS}{mine.pk}/").status_code == 404
    theirs = api_client_for(other_org, "admin").post(
        HOOKS, {"target_url": "https://hooks.zapier.com/hooks/standard/9/x/", "event": "order.created"},
        format="json").json()
    assert admin_api.delete(f"{HOOKS}{theirs['id']}/").status_code == 404
    assert WebhookEndpoint.objects.filter(pk__in=[mine.pk, theirs["id"]]).count() == 2


def test_bad_subscriptions_are_refused_and_nothing_is_created(org, admin_api, viewer_api):
    unknown = admin_api.post(HOOKS, {"target_url": "https://hooks.zapier.com/h/1/", "event": "order.eaten"},
                             format="json")
    private = admin_api.post(HOOKS, {"target_url": "https://10.0.0.5/h", "event": "order.created"}, format="json")
    extra = admin_api.post(HOOKS, {"target_url": "https://hooks.zapier.com/h/1/", "event": "order.created",
                                   "style": "x"}, format="json")
    viewer = viewer_api.post(HOOKS, {"target_url": "https://hooks.zapier.com/h/1/", "event": "order.created"},
                             format="json")
    assert [r.status_code for r in (unknown, private, extra, viewer)] == [400, 400, 400, 403]
    assert not WebhookEndpoint.objects.exists()


def test_samples_are_an_array_of_the_delivery_body(viewer_api):
    answer = viewer_api.get("/api/zapier/samples/order.created/")
    assert answer.status_code == 200
    [sample] = answer.json()
    assert sample["type"] == "order.created" and sample["data"]["order"]["external_number"] == "#1042"
    assert viewer_api.get("/api/zapier/samples/order.eaten/").status_code == 404


def test_the_connection_test_counts_the_subscriptions(org, admin_api):
    admin_api.post(HOOKS, {"target_url": "https://hooks.zapier.com/h/1/", "event": "order.created"}, format="json")
    integration = IntegrationFactory(organization=org, provider="zapier", type="webhook")
    assert "1 REST hook" in registry.connector_for(integration).test_connection().detail


def test_a_target_answering_410_ends_the_subscription(org, admin_api):
    with Receiver(410) as receiver:
        hook = admin_api.post(HOOKS, {"target_url": receiver.url, "event": "order.created"}, format="json").json()
        manual, _ = make_endpoint(org, receiver.url.replace("/hook", "/manual"), events=["order.created"])
        publish("order.created", {"order": {"id": 7}}, org, integration=IntegrationFactory(organization=org))
        dispatch_due(threads=2, run_seconds=5)
    assert len(receiver.requests) == 2
    assert not WebhookEndpoint.objects.filter(pk=hook["id"]).exists()  # Zapier's: gone
    manual.refresh_from_db()
    assert not manual.is_active  # an endpoint made by hand is only disabled
