"""Shipping labels: fetched from recorded FAN Courier answers, stored, downloaded (API, admin), printed as one PDF."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.cache import cache
from django.utils import timezone
from pypdf import PdfReader

from commerce.models import Fulfillment, Order, OrderStatus, ShippingLabel
from connectors import http
from connectors.sessions import close_sessions
from tests.connectors.http_fakes import fake_public_dns
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory, MembershipFactory

BASE = "https://api.fancourier.ro"
LABEL_PDF = (Path(__file__).resolve().parent.parent / "fixtures" / "fancourier" / "label__awb.pdf").read_bytes()
replay = Recorded("fancourier").replay


@pytest.fixture(autouse=True)
def label_storage(settings, tmp_path):
    """Labels go to a folder of this test (the setting's local-folder backend)."""
    settings.STORAGES = {**settings.STORAGES, "labels": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    cache.clear()
    yield tmp_path
    cache.clear()


@pytest.fixture
def courier(org, monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    fake_public_dns(monkeypatch)
    row = IntegrationFactory(organization=org, provider="fancourier", type="shipping", api_key="shop-user",
                             api_secret="fc-pass-PPPP9999", config={"client_id": "7032158"})
    yield row
    close_sessions()


def shipped_order(org, courier, number: int) -> Order:
    order = Order.objects.create(organization=org, external_id=str(number), external_number=f"#{number}",
                                 status=OrderStatus.FULFILLED, currency="RON", total=Decimal("99.00"),
                                 placed_at=timezone.now())
    Fulfillment.objects.create(organization=org, order=order, carrier="FAN Courier", courier=courier,
                               tracking_number=f"23473001{number:05d}", push_status="not_required")
    return order


def replay_labels() -> None:
    replay("POST", f"{BASE}/login", "login__success")
    responses.add(responses.GET, f"{BASE}/awb/label", body=LABEL_PDF, content_type="application/pdf")


@responses.activate
def test_a_fetched_label_is_stored_and_downloadable_from_the_api_and_the_admin(client, org, courier, operator_api,
                                                                               label_storage):
    order = shipped_order(org, courier, 1)
    replay_labels()

    created = operator_api.post(f"/api/orders/{order.pk}/label/fetch/")

    assert created.status_code == 201, created.content
    query = parse_qs(urlsplit(responses.calls[-1].request.url).query)
    assert query == {"clientId": ["7032158"], "awbs[]": ["2347300100001"], "pdf": ["1"], "language": ["ro"],
                     "format": ["A6"]}
    label = ShippingLabel.objects.get(order=order)
    assert (label.tracking_number, label.source, label.content_type, label.size) == (
        "2347300100001", "courier", "application/pdf", len(LABEL_PDF))
    assert (label_storage / label.path).read_bytes() == LABEL_PDF
    assert created.json()[0]["download_url"] == f"/api/orders/{order.pk}/label/?tracking_number=2347300100001"

    download = operator_api.get(f"/api/orders/{order.pk}/label/")
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert download.content == LABEL_PDF and "no-store" in download["Cache-Control"]
    assert operator_api.get(f"/api/orders/{order.pk}/label/", HTTP_ACCEPT="application/pdf").content == LABEL_PDF

    client.force_login(MembershipFactory(organization=org, role="viewer").user)
    page = client.get(f"/admin/commerce/order/{order.pk}/change/").content.decode()
    link = f"/admin/commerce/order/{order.pk}/label/{label.pk}/"
    assert link in page
    assert client.get(link).content == LABEL_PDF


@responses.activate
def test_no_label_at_fan_courier_is_a_provider_error_and_stores_nothing(org, courier, operator_api):
    order = shipped_order(org, courier, 2)
    replay("POST", f"{BASE}/login", "login__success")
    replay("GET", f"{BASE}/awb/label", "label__no_label")

    answer = operator_api.post(f"/api/orders/{order.pk}/label/fetch/")

    assert answer.status_code >= 400 and answer.json()["error"]["code"] == "PROVIDER_ERROR"
    assert "AWB-ul nu a fost gasit" in answer.json()["error"]["message"]
    assert not ShippingLabel.objects.exists()
    assert operator_api.get(f"/api/orders/{order.pk}/label/").json()["error"]["code"] == "LABEL_NOT_FOUND"
    asked_pdf = operator_api.get(f"/api/orders/{order.pk}/label/", HTTP_ACCEPT="application/pdf")
    assert asked_pdf.status_code == 404 and b"LABEL_NOT_FOUND" in asked_pdf.content


@responses.activate
def test_thirty_labels_merge_into_one_pdf_of_thirty_pages(org, courier, operator_api):
    orders = [shipped_order(org, courier, n) for n in range(1, 31)]
    replay_labels()
    ids = [o.pk for o in orders]

    fetched = operator_api.post("/api/orders/labels/fetch/", {"order_ids": ids}, format="json")
    assert fetched.json()["fetched"] == 30 and fetched.json()["failed"] == 0
    again = operator_api.post("/api/orders/labels/fetch/", {"order_ids": ids}, format="json")
    assert again.json()["fetched"] == 0  # missing_only: nothing asked twice
    assert len([c for c in responses.calls if "/awb/label" in c.request.url]) == 30

    printed = operator_api.post("/api/orders/labels/print/", {"order_ids": ids}, format="json")

    assert printed.status_code == 200 and printed["Content-Type"] == "application/pdf"
    assert len(PdfReader(io.BytesIO(printed.content)).pages) == 30
    assert printed["X-Label-Pages"] == "30"


@responses.activate
def test_the_admin_bulk_action_prints_the_selected_orders_labels_as_one_pdf(client, org, courier):
    orders = [shipped_order(org, courier, n) for n in range(1, 31)]
    replay_labels()
    client.force_login(MembershipFactory(organization=org, role="operator").user)

    answer = client.post("/admin/commerce/order/", {"action": "print_labels",
                                                    "_selected_action": [o.pk for o in orders]})

    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert len(PdfReader(io.BytesIO(answer.content)).pages) == 30  # missing labels fetched first


def test_another_organizations_order_label_is_not_found(org, other_org, courier, api_client_for, operator_api):
    order = shipped_order(org, courier, 3)
    theirs = api_client_for(other_org, "operator")
    assert theirs.get(f"/api/orders/{order.pk}/label/").json()["error"]["code"] == "ORDER_NOT_FOUND"
    assert theirs.post("/api/orders/labels/print/", {"order_ids": [order.pk]},
                       format="json").json()["error"]["code"] == "LABEL_NOT_FOUND"


def test_an_order_shipped_without_a_label_source_says_so(org, operator_api):
    order = Order.objects.create(organization=org, external_id="9", status=OrderStatus.FULFILLED, currency="RON",
                                 placed_at=timezone.now())
    Fulfillment.objects.create(organization=org, order=order, carrier="Posta", tracking_number="RR1",
                               push_status="not_required")
    answer = operator_api.post(f"/api/orders/{order.pk}/label/fetch/")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "CAPABILITY_NOT_SUPPORTED"
