"""The webhook-endpoints and webhook-deliveries API: tenancy, roles, secrets shown once, idempotency, strict input."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from tests.factories import IntegrationFactory
from tests.webhooks.outbound_support import make_endpoint
from webhooks.events import publish
from webhooks.models import DeliveryStatus, IdempotencyKey, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/in"
BODY = {"url": URL, "events": ["order.created"], "description": "ERP"}


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    monkeypatch.setattr("connectors.outbound.resolve", lambda host: [ipaddress.ip_address("93.184.216.34")])


@pytest.fixture(autouse=True)
def tasks():
    with mock.patch("webhooks.tasks.deliver.apply_async") as deliver, \
            mock.patch("webhooks.tasks.recover_endpoint.apply_async") as recover:
        yield {"deliver": deliver, "recover": recover}


def _error(response) -> dict:
    return response.json()["error"]


# ---------------------------------------------------------------- create, secrets


def test_create_shows_the_secret_once_then_masked(admin_api):
    created = admin_api.post("/api/webhook-endpoints/", BODY, format="json")
    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    assert secret.startswith("whsec_") and len(__import__("base64").b64decode(secret[6:])) >= 24
    assert created.json()["secret_masked"] == "••••" + secret[-4:]

    detail = admin_api.get(f"/api/webhook-endpoints/{created.json()['id']}/").json()
    listed = admin_api.get("/api/webhook-endpoints/").json()["results"][0]
    for shown in (detail, listed):
        assert "secret" not in shown and shown["secret_masked"] == "••••" + secret[-4:]
        assert secret not in str(shown)
    assert WebhookEndpoint.objects.get().secret == secret


def test_rotate_secret_returns_the_new_one_and_keeps_the_old_for_24h(admin_api, org):
    endpoint, old = make_endpoint(org, URL)
    response = admin_api.post(f"/api/webhook-endpoints/{endpoint.pk}/rotate-secret/", format="json")
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new != old and new.startswith("whsec_")
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (new, old)
    expires = endpoint.previous_secret_expires_at
    assert timedelta(hours=23, minutes=59) < expires - timezone.now() <= timedelta(hours=24)
    assert admin_api.get(f"/api/webhook-endpoints/{endpoint.pk}/").json()["previous_secret_expires_at"]


@pytest.mark.parametrize(("body", "field"), [
    ({**BODY, "secret": "whsec_mine"}, "secret"),
    ({**BODY, "is_active": False}, "is_active"),
    ({**BODY, "evnets": ["*"]}, "evnets"),
    ({**BODY, "events": []}, "events"),
    ({**BODY, "events": "order.created"}, "events"),
    ({**BODY, "events": ["order.exploded"]}, "events"),
    ({**BODY, "url": "ftp://hooks.example.com/"}, "url"),
    ({**BODY, "integration": "1"}, "integration"),
    ({"events": ["*"]}, "url"),
])
def test_bad_input_is_a_validation_error_and_creates_nothing(admin_api, body, field):
    response = admin_api.post("/api/webhook-endpoints/", body, format="json")
    assert response.status_code == 400
    assert _error(response)["code"] == "VALIDATION_ERROR" and field in _error(response)["details"]
    assert not WebhookEndpoint.objects.exists()


def test_integration_must_be_the_organizations(admin_api, org):
    mine, theirs = IntegrationFactory(organization=org), IntegrationFactory()
    response = admin_api.post("/api/webhook-endpoints/", {**BODY, "integration": theirs.pk}, format="json")
    assert response.status_code == 400 and "integration" in _error(response)["details"]
    response = admin_api.post("/api/webhook-endpoints/", {**BODY, "integration": mine.pk}, format="json")
    assert response.status_code == 201 and response.json()["integration"] == mine.pk


# ---------------------------------------------------------------- idempotency


def test_same_idempotency_key_returns_the_first_answer(admin_api):
    first = admin_api.post("/api/webhook-endpoints/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = admin_api.post("/api/webhook-endpoints/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert WebhookEndpoint.objects.count() == 1
    assert IdempotencyKey.objects.get().key == "k-1"
    other = admin_api.post("/api/webhook-endpoints/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert other.status_code == 201 and WebhookEndpoint.objects.count() == 2


def test_idempotency_key_with_another_body_is_a_conflict(admin_api):
    admin_api.post("/api/webhook-endpoints/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    response = admin_api.post("/api/webhook-endpoints/", {**BODY, "description": "changed"}, format="json",
                              HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 409 and _error(response)["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert WebhookEndpoint.objects.count() == 1


def test_idempotency_key_expires_after_24_hours_and_is_per_organization(admin_api, org, api_client_for, other_org):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        admin_api.post("/api/webhook-endpoints/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        other = api_client_for(other_org, "admin")
        assert other.post("/api/webhook-endpoints/", BODY, format="json",
                          HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
        clock.shift(timedelta(hours=24, seconds=1))
        again = admin_api.post("/api/webhook-endpoints/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert WebhookEndpoint.objects.filter(organization=org).count() == 2


def test_a_failed_create_does_not_use_up_the_key(admin_api):
    bad = admin_api.post("/api/webhook-endpoints/", {**BODY, "events": []}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert bad.status_code == 400
    good = admin_api.post("/api/webhook-endpoints/", {**BODY, "events": []} | {"events": ["*"]}, format="json",
                          HTTP_IDEMPOTENCY_KEY="k")
    assert good.status_code == 201


def test_stored_answers_are_encrypted(admin_api):
    from django.db import connection

    secret = admin_api.post("/api/webhook-endpoints/", BODY, format="json",
                            HTTP_IDEMPOTENCY_KEY="k").json()["secret"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT response_body FROM webhooks_idempotencykey")
        [(raw,)] = cursor.fetchall()
    assert secret not in raw


# ---------------------------------------------------------------- tenancy, roles


def test_another_organizations_endpoint_and_delivery_are_not_found(admin_api, other_org):
    theirs, _ = make_endpoint(other_org, URL)
    [delivery] = publish("order.created", {}, other_org)
    for method, path in [
        ("get", f"/api/webhook-endpoints/{theirs.pk}/"),
        ("patch", f"/api/webhook-endpoints/{theirs.pk}/"),
        ("delete", f"/api/webhook-endpoints/{theirs.pk}/"),
        ("post", f"/api/webhook-endpoints/{theirs.pk}/rotate-secret/"),
        ("post", f"/api/webhook-endpoints/{theirs.pk}/test/"),
        ("get", f"/api/webhook-endpoints/{theirs.pk}/deliveries/"),
        ("post", f"/api/webhook-endpoints/{theirs.pk}/recover/"),
        ("get", f"/api/webhook-deliveries/{delivery.pk}/"),
        ("post", f"/api/webhook-deliveries/{delivery.pk}/redeliver/"),
        ("get", "/api/webhook-endpoints/abc/"),
    ]:
        response = getattr(admin_api, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path)
        assert _error(response)["code"] == "WEBHOOK_NOT_FOUND"
    assert admin_api.get("/api/webhook-endpoints/").json()["results"] == []
    assert admin_api.get("/api/webhook-deliveries/").json()["results"] == []
    theirs.refresh_from_db()
    assert theirs.url == URL


@pytest.mark.parametrize(("role", "read", "operate", "write"), [
    ("viewer", True, False, False),
    ("operator", True, True, False),
    ("admin", True, True, True),
    ("owner", True, True, True),
])
def test_roles(org, api_client_for, role, read, operate, write):
    api = api_client_for(org, role)
    endpoint, _ = make_endpoint(org, URL)
    [delivery] = publish("order.created", {}, org)
    allowed = {True: (200, 201, 202, 204), False: (403,)}
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    checks = [
        (read, api.get("/api/webhook-endpoints/")),
        (read, api.get("/api/webhook-endpoints/event-types/")),
        (read, api.get(f"/api/webhook-endpoints/{endpoint.pk}/deliveries/")),
        (read, api.get(f"/api/webhook-deliveries/{delivery.pk}/")),
        (operate, api.post(f"/api/webhook-endpoints/{endpoint.pk}/test/", format="json")),
        (operate, api.post(f"/api/webhook-deliveries/{delivery.pk}/redeliver/", format="json")),
        (operate, api.post(f"/api/webhook-endpoints/{endpoint.pk}/recover/", {"since": since}, format="json")),
        (write, api.post("/api/webhook-endpoints/", BODY, format="json")),
        (write, api.patch(f"/api/webhook-endpoints/{endpoint.pk}/", {"description": "x"}, format="json")),
        (write, api.post(f"/api/webhook-endpoints/{endpoint.pk}/rotate-secret/", format="json")),
        (write, api.delete(f"/api/webhook-endpoints/{endpoint.pk}/")),
    ]
    for expected, response in checks:
        assert response.status_code in allowed[expected], (role, response.request["PATH_INFO"], response.json())
        if not expected:
            assert _error(response)["code"] == "PERMISSION_DENIED"


def test_unauthenticated_is_refused(client):
    response = client.get("/api/webhook-endpoints/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "NOT_AUTHENTICATED"


# ---------------------------------------------------------------- the rest


def test_event_types_catalog(viewer_api):
    response = viewer_api.get("/api/webhook-endpoints/event-types/")
    assert response.status_code == 200
    types = {e["type"]: e for e in response.json()}
    assert "order.created" in types and "inventory.low_stock" in types and "sync_job.failed" in types
    assert types["order.created"]["example"]["type"] == "order.created"


def test_patch_and_reenable(admin_api, org):
    endpoint, _ = make_endpoint(org, URL)
    response = admin_api.patch(f"/api/webhook-endpoints/{endpoint.pk}/", {"is_active": False}, format="json")
    assert response.json()["is_active"] is False and response.json()["disabled_reason"]
    response = admin_api.patch(f"/api/webhook-endpoints/{endpoint.pk}/",
                               {"is_active": True, "events": ["*"], "description": "all"}, format="json")
    body = response.json()
    assert (body["is_active"], body["disabled_reason"], body["events"], body["description"]) == (True, "", ["*"], "all")
    response = admin_api.patch(f"/api/webhook-endpoints/{endpoint.pk}/", {"secret": "x", "last_success_at": None},
                               format="json")
    assert response.status_code == 400 and set(_error(response)["details"]) == {"secret", "last_success_at"}


def test_delete_removes_the_endpoint_and_its_deliveries(admin_api, org):
    endpoint, _ = make_endpoint(org, URL)
    publish("order.created", {}, org)
    assert admin_api.delete(f"/api/webhook-endpoints/{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_test_sends_a_ping_after_commit(operator_api, org, tasks, django_capture_on_commit_callbacks):
    endpoint, _ = make_endpoint(org, URL, events=["order.created"])
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_api.post(f"/api/webhook-endpoints/{endpoint.pk}/test/", format="json")
    assert response.status_code == 202 and response.json()["event"] == "ping"
    tasks["deliver"].assert_called_once()
    assert tasks["deliver"].call_args.args[0] == (response.json()["id"],)
    assert operator_api.post(f"/api/webhook-endpoints/{endpoint.pk}/test/", {"x": 1},
                             format="json").status_code == 400


def test_deliveries_list_filters_and_detail_with_attempts(viewer_api, org):
    endpoint, _ = make_endpoint(org, URL)
    first = publish("order.created", {}, org)[0]
    publish("order.updated", {}, org)
    WebhookDelivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.FAILED)
    base = f"/api/webhook-endpoints/{endpoint.pk}/deliveries/"
    assert [d["event"] for d in viewer_api.get(base).json()["results"]] == ["order.updated", "order.created"]
    assert [d["id"] for d in viewer_api.get(base + "?status=failed").json()["results"]] == [first.pk]
    assert [d["id"] for d in viewer_api.get(base + "?event=order.created").json()["results"]] == [first.pk]
    assert viewer_api.get(base + "?status=bogus").json()["error"]["code"] == "VALIDATION_ERROR"
    assert len(viewer_api.get(f"/api/webhook-deliveries/?endpoint={endpoint.pk}").json()["results"]) == 2
    detail = viewer_api.get(f"/api/webhook-deliveries/{first.pk}/").json()
    assert detail["payload"]["type"] == "order.created" and detail["attempt_log"] == []


def test_redeliver_requeues_with_a_fresh_schedule(operator_api, org, tasks, django_capture_on_commit_callbacks):
    make_endpoint(org, URL)
    [delivery] = publish("order.created", {}, org)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=8, round_attempts=8)
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_api.post(f"/api/webhook-deliveries/{delivery.pk}/redeliver/", format="json")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.round_attempts) == (8, 0)
    tasks["deliver"].assert_called_once()
    assert tasks["deliver"].call_args.args[0] == (delivery.pk,)


def test_recover_requeues_failed_deliveries_of_the_window(operator_api, org, tasks, django_capture_on_commit_callbacks):
    from webhooks.tasks import recover_endpoint

    endpoint, _ = make_endpoint(org, URL)
    now = timezone.now()
    old, recent, delivered = (publish("order.created", {"n": n}, org)[0] for n in range(3))
    WebhookDelivery.objects.filter(pk=old.pk).update(status="failed", created_at=now - timedelta(days=3))
    WebhookDelivery.objects.filter(pk=recent.pk).update(status="failed", created_at=now - timedelta(hours=2))
    WebhookDelivery.objects.filter(pk=delivered.pk).update(status="delivered", created_at=now - timedelta(hours=2))
    since = (now - timedelta(days=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_api.post(f"/api/webhook-endpoints/{endpoint.pk}/recover/", {"since": since},
                                     format="json")
    assert response.status_code == 202 and response.json()["queued"] == 1
    (endpoint_id, since_arg, until_arg) = tasks["recover"].call_args.args[0]
    assert recover_endpoint.run(endpoint_id, since_arg, until_arg) == 1
    assert recover_endpoint.run(endpoint_id, since_arg, until_arg) == 0  # twice is harmless
    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {old.pk: "failed", recent.pk: "pending", delivered.pk: "delivered"}

    bad = operator_api.post(f"/api/webhook-endpoints/{endpoint.pk}/recover/",
                            {"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()}, format="json")
    assert bad.status_code == 400 and "since" in _error(bad)["details"]
    assert operator_api.post(f"/api/webhook-endpoints/{endpoint.pk}/recover/", {"since": since, "x": 1},
                             format="json").status_code == 400


def test_schema_lists_the_webhook_operations(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert set(paths["/api/webhook-endpoints/"]) == {"get", "post"}
    assert set(paths["/api/webhook-endpoints/{id}/"]) == {"get", "patch", "delete"}
    for action in ("rotate-secret", "test", "recover"):
        assert set(paths[f"/api/webhook-endpoints/{{id}}/{action}/"]) == {"post"}
    assert set(paths["/api/webhook-endpoints/{id}/deliveries/"]) == {"get"}
    assert set(paths["/api/webhook-endpoints/event-types/"]) == {"get"}
    assert set(paths["/api/webhook-deliveries/{id}/redeliver/"]) == {"post"}
