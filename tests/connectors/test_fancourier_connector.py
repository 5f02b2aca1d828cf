"""The FAN Courier connector against recorded answers (tests/fixtures/fancourier/), one test per fixture.

A fixture is `{"status", "headers", "body"}`. FAN Courier's host is real: `connectors.outbound.resolve` is patched to
a public address so the outbound check passes, and `responses` answers before any socket is opened. The token cache
is the Django cache, cleared around every test.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.cache import cache
from django.utils import timezone

from commerce.models import AutoFulfillRule, Order, OrderLine, OrderStatus
from config.errors import ValidationError
from connectors import registry
from connectors.errors import AuthExpired, ProviderError, ProviderUnavailable, RateLimited
from connectors.fancourier import mapping
from connectors.fancourier.connector import FanCourierConnector
from connectors.fancourier.models import Shipment
from connectors.sessions import close_sessions
from integrations.models import IntegrationLog, IntegrationStatus
from syncjobs.autofulfill import auto_fulfill
from tests.connectors.http_fakes import fake_public_dns
from tests.connectors.support import Recorded
from tests.factories import IntegrationFactory

BASE = "https://api.fancourier.ro"
LOGIN, AWB = f"{BASE}/login", f"{BASE}/intern-awb"
TRACKING, LOCALITIES = f"{BASE}/reports/awb/tracking", f"{BASE}/reports/localities"
COUNTIES = f"{BASE}/reports/counties"
ADDRESS = {"name": "Ion Popescu", "company": "", "address1": "Str. Memorandumului nr. 28", "address2": "Bl. A",
           "city": "Cluj-Napoca", "province_code": "CJ", "zip": "400114", "country_code": "RO",
           "phone": "+40722000111"}


fixture = Recorded("fancourier")
replay = fixture.replay


def bearer(call) -> str:
    return call.request.headers.get("Authorization", "")


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def integration(db, monkeypatch, settings, sleeps):
    settings.PROVIDER_MAX_RETRIES = 2
    fake_public_dns(monkeypatch)
    row = IntegrationFactory(provider="fancourier", type="shipping", code="fan-ro", api_key="shop-user",
                             api_secret="fc-pass-PPPP9999", config={"client_id": "7032158"})
    yield row
    close_sessions()


@pytest.fixture
def connector(integration) -> FanCourierConnector:
    return registry.connector_for(integration)


def make_order(organization, *, status=OrderStatus.PAID, address=None) -> Order:
    order = Order.objects.create(organization=organization, external_id="1042", external_number="#1042", status=status,
                                 currency="RON", total=Decimal("249.90"), subtotal=Decimal("249.90"),
                                 shipping_address=dict(address or ADDRESS), placed_at=timezone.now())
    OrderLine.objects.create(order=order, external_id="1042-1", sku="TSHIRT-M", title="T-shirt", quantity=2,
                             unit_price=Decimal("124.95"), total=Decimal("249.90"))
    return order


def shipment_for(order: Order, **changes) -> dict:
    return {"order": {"id": order.pk, "external_number": order.external_number, "currency": order.currency,
                      "total": str(order.total)},
            "lines": [{"sku": "TSHIRT-M", "quantity": 2}], "address": order.shipping_address, "carrier_code": "",
            **changes}


# ---------------------------------------------------------------------- declaration
def test_the_registry_knows_fancourier_as_a_courier():
    cls = registry.get("fancourier")
    assert cls is FanCourierConnector
    assert cls.describe()["capabilities"] == ["labels", "shipments"] and cls.integration_type == "shipping"


# ---------------------------------------------------------------------- login and the token
@responses.activate
def test_login__success_token_is_reused_across_calls_and_never_logged(connector):
    replay("POST", LOGIN, "login__success")
    replay("GET", COUNTIES, "counties__list")

    connector.client.counties()
    registry.connector_for(connector.integration).client.counties()  # another connector object: same company

    assert [c.request.method for c in responses.calls] == ["POST", "GET", "GET"]
    assert parse_qs(responses.calls[0].request.body) == {"username": ["shop-user"], "password": ["fc-pass-PPPP9999"]}
    assert bearer(responses.calls[1]) == bearer(responses.calls[2]) == "Bearer fc-token-AAAA1111"
    logged = json.dumps(list(IntegrationLog.objects.values("request", "response", "endpoint", "error_message")))
    assert "fc-token-AAAA1111" not in logged and "fc-pass-PPPP9999" not in logged


@responses.activate
def test_login__second_one_re_login_after_a_401_then_the_call_succeeds(connector):
    replay("POST", LOGIN, "login__success")
    replay("POST", LOGIN, "login__second")
    replay("GET", COUNTIES, "counties__list")
    replay("GET", COUNTIES, "errors__unauthorized")
    replay("GET", COUNTIES, "counties__list")

    connector.client.counties()
    connector.client.counties()  # 401 with the cached token → one login → retried once

    assert [(c.request.method, bearer(c)) for c in responses.calls] == [
        ("POST", ""), ("GET", "Bearer fc-token-AAAA1111"), ("GET", "Bearer fc-token-AAAA1111"),
        ("POST", ""), ("GET", "Bearer fc-token-BBBB2222")]
    assert cache.get(connector.client.cache_key) == "fc-token-BBBB2222"


@responses.activate
def test_login__refused_is_a_readable_auth_error_and_test_connection_says_so(connector):
    from integrations.services import integration_test_connection

    replay("POST", LOGIN, "login__refused")
    result = integration_test_connection(integration=connector.integration)

    assert not result.ok
    assert result.detail == ("Could not use FAN Courier: FAN Courier refused the username and password "
                             "(Invalid username or password); check them and the client id.")
    assert cache.get(connector.client.cache_key) is None


@responses.activate
def test_errors__unauthorized_after_a_fresh_login_marks_the_integration_in_error(connector, integration):
    responses.add("POST", LOGIN, json=fixture("login__success")["body"])
    replay("GET", TRACKING, "errors__unauthorized")

    with pytest.raises(AuthExpired) as caught:
        connector.track(["2347300120337"])

    assert caught.value.status_code == 401
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 2  # one re-login, no more
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.ERROR
    assert integration.last_error.startswith("FAN Courier refused a fresh token (HTTP 401 after a new login)")


# ---------------------------------------------------------------------- provider errors
@responses.activate
def test_errors__rate_limited_is_honoured_then_the_call_goes_through(connector, sleeps):
    replay("POST", LOGIN, "login__success")
    replay("GET", COUNTIES, "errors__rate_limited")
    replay("GET", COUNTIES, "counties__list")

    assert len(connector.client.counties()) == 3
    assert sleeps == [3.0]


@responses.activate
def test_errors__rate_limited_every_time_ends_in_rate_limited(connector, sleeps):
    replay("POST", LOGIN, "login__success")
    replay("GET", COUNTIES, "errors__rate_limited")

    with pytest.raises(RateLimited):
        connector.client.counties()
    assert sleeps == [3.0, 3.0]


@responses.activate
def test_errors__server_error_is_retried_then_transient(connector, sleeps):
    replay("POST", LOGIN, "login__success")
    replay("GET", TRACKING, "errors__server_error")

    with pytest.raises(ProviderUnavailable) as caught:
        connector.track(["2347300120337"])
    assert caught.value.transient and len(sleeps) == 2
    assert "Server Error" in caught.value.message


@responses.activate
def test_errors__not_found_is_permanent(connector):
    replay("POST", LOGIN, "login__success")
    replay("GET", COUNTIES, "errors__not_found")

    with pytest.raises(ProviderError) as caught:
        connector.client.counties()
    assert caught.value.status_code == 404 and not caught.value.transient


@responses.activate
def test_errors__unprocessable_is_permanent_with_the_providers_words(connector, integration):
    make = make_order(integration.organization)
    replay("POST", LOGIN, "login__success")
    replay("GET", LOCALITIES, "localities__cluj")
    replay("POST", AWB, "errors__unprocessable")

    with pytest.raises(ProviderError) as caught:
        connector.create_shipment(shipment_for(make))
    assert caught.value.status_code == 422 and not caught.value.transient
    assert caught.value.message == "FAN Courier answered HTTP 422: The given data was invalid."
    assert not Shipment.objects.exists()


# ---------------------------------------------------------------------- addresses
@pytest.mark.parametrize(("change", "field"), [
    ({"country_code": "BG"}, "shipping_address.country_code"),
    ({"name": ""}, "shipping_address.name"),
    ({"phone": ""}, "shipping_address.phone"),
    ({"address1": " "}, "shipping_address.address1"),
    ({"province_code": "XX"}, "shipping_address.province_code"),
])
@responses.activate
def test_an_address_is_refused_before_any_call_naming_the_bad_field(connector, integration, change, field):
    order = make_order(integration.organization, address={**ADDRESS, **change})

    with pytest.raises(ValidationError) as caught:
        connector.create_shipment(shipment_for(order))

    assert list(caught.value.details) == [field] and caught.value.code == "ADDRESS_INVALID"
    assert len(responses.calls) == 0 and not Shipment.objects.exists()


@responses.activate
def test_localities__cluj_refuses_an_unknown_locality_without_an_awb_and_is_cached(connector, integration):
    replay("POST", LOGIN, "login__success")
    replay("GET", LOCALITIES, "localities__cluj")
    order = make_order(integration.organization, address={**ADDRESS, "city": "Floresty"})

    with pytest.raises(ValidationError) as caught:
        connector.create_shipment(shipment_for(order))
    assert caught.value.details == {"shipping_address.city": ["'Floresty' is not a FAN Courier locality of Cluj"]}
    assert "Did you mean Floresti?" in caught.value.message
    assert connector.validate_address({**ADDRESS, "city": "CLUJ NAPOCA", "province_code": "cj"})["locality"] \
        == "Cluj-Napoca"
    assert [urlsplit(c.request.url).path for c in responses.calls] == ["/login", "/reports/localities"]
    assert parse_qs(urlsplit(responses.calls[1].request.url).query) == {"county": ["Cluj"]}


# ---------------------------------------------------------------------- AWBs
@responses.activate
def test_awb__created_sends_the_exact_body_and_records_the_shipment(connector, integration):
    integration.config = {**integration.config, "weight_kg": 2, "dimensions": {"length": 30, "height": 10, "width": 20}}
    integration.save()
    order = make_order(integration.organization, status=OrderStatus.PENDING)
    replay("POST", LOGIN, "login__success")
    replay("GET", LOCALITIES, "localities__cluj")
    replay("POST", AWB, "awb__created")

    booked = registry.connector_for(integration).create_shipment(shipment_for(order, email="ion@example.com"))

    assert json.loads(responses.calls[-1].request.body) == {
        "clientId": 7032158,
        "shipments": [{
            "info": {"service": "Standard", "packages": {"parcel": 1, "envelope": 0}, "weight": 2.0,
                     "payment": "expeditor", "cod": 249.9, "currency": "RON", "declaredValue": 249.9,
                     "observation": "", "content": "Order #1042", "options": [],
                     "dimensions": {"length": 30, "height": 10, "width": 20}},
            "recipient": {"name": "Ion Popescu", "contactPerson": "Ion Popescu", "phone": "+40722000111",
                          "email": "ion@example.com",
                          "address": {"county": "Cluj", "locality": "Cluj-Napoca", "street": "Str. Memorandumului",
                                      "streetNo": "28", "zipCode": "400114", "building": "Bl. A", "entrance": "",
                                      "floor": "", "apartment": ""}},
        }],
    }
    assert booked == {"tracking_number": "2347300120337", "carrier": "FAN Courier", "carrier_code": "Standard",
                      "external_id": "2347300120337", "tariff": 30.53, "routing_code": "0200"}
    row = Shipment.objects.get()
    assert (row.awb_number, row.order_id, row.cod_amount, row.tariff, row.is_open) == (
        "2347300120337", order.pk, Decimal("249.90"), Decimal("30.53"), True)


@responses.activate
def test_awb__refused_raises_with_fan_couriers_reason_and_records_nothing(connector, integration):
    order = make_order(integration.organization)
    replay("POST", LOGIN, "login__success")
    replay("GET", LOCALITIES, "localities__cluj")
    replay("POST", AWB, "awb__refused")

    with pytest.raises(ProviderError) as caught:
        connector.create_shipment(shipment_for(order))
    assert caught.value.message == "FAN Courier refused the AWB: recipient.phone: Numarul de telefon nu este valid"
    assert not Shipment.objects.exists()


@responses.activate
def test_an_auto_fulfill_rule_with_fancourier_books_the_awb_and_fulfils_the_order(connector, integration):
    order = make_order(integration.organization)
    AutoFulfillRule.objects.create(organization=integration.organization, name="RO by FAN", courier=integration,
                                   require_in_stock=False, destination_countries=["RO"], carrier_code="Standard")
    replay("POST", LOGIN, "login__success")
    replay("GET", LOCALITIES, "localities__cluj")
    replay("POST", AWB, "awb__created")

    outcome = auto_fulfill(organization=integration.organization)

    assert outcome["fulfilled"] == 1 and outcome["failed"] == 0
    order.refresh_from_db()
    fulfillment = order.fulfillments.get()
    assert order.status == OrderStatus.FULFILLED
    assert (fulfillment.tracking_number, fulfillment.carrier, fulfillment.carrier_code) == (
        "2347300120337", "FAN Courier", "Standard")
    assert json.loads(responses.calls[-1].request.body)["shipments"][0]["info"]["cod"] == 0.0  # paid: no COD
    assert Shipment.objects.get().order_id == order.pk


# ---------------------------------------------------------------------- connection test
@responses.activate
def test_counties__list_is_the_connection_test(connector):
    replay("POST", LOGIN, "login__success")
    replay("GET", COUNTIES, "counties__list")

    result = connector.test_connection()
    assert result.ok and result.detail == "Connected to FAN Courier as client 7032158 (3 counties served)."


# ---------------------------------------------------------------------- the status table
@pytest.mark.parametrize("code", sorted(mapping.EVENT_STATUSES))
def test_every_documented_event_code_maps_to_a_shipment_status(code):
    expected = mapping.EVENT_STATUSES[code][0]
    assert mapping.event_status(code) == expected
    assert mapping.event_status(code.lower()) == expected
    assert expected in mapping.ShipmentStatus.values


def test_the_status_table_in_words():
    assert {code: mapping.event_status(code) for code in ("C0", "H3", "H10", "H1", "C1", "S1", "S12", "S2")} == {
        "C0": "picked_up", "H3": "in_transit", "H10": "in_transit", "H1": "in_transit", "C1": "out_for_delivery",
        "S1": "out_for_delivery", "S12": "delivery_attempted", "S2": "delivered"}
    assert mapping.event_status("Z99") is None
