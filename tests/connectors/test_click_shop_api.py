"""Click's SHOP-API as Click calls it: form posts to …/prepare/ and …/complete/, MD5-signed, JSON answers.

Requests are recorded in tests/fixtures/click/<step>__<case>.json (one test per fixture) and signed here with
the service's secret key as Click signs them; `merchant_prepare_id` is filled in from the prepare's answer.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from commerce.models import Order
from connectors.click import sign
from connectors.models import PaymentTransaction
from integrations.models import IntegrationLog
from tests.connectors.support import Recorded, shop_order
from tests.factories import IntegrationFactory

SECRET = "ClickSecretKey0001"


fixture = Recorded("click")


def form(name: str, *, secret: str = SECRET, **changes) -> dict[str, str]:
    fields = {**fixture(name), **changes}
    complete = fields["action"] == "1"
    fields["sign_string"] = sign.sign_string(fields, secret, complete=complete)
    return fields


@pytest.fixture
def click(db):
    return IntegrationFactory(provider="click", type="payment_gateway", code="click-uz", route_key="click-uz",
                              api_secret=SECRET,
                              config={"service_id": "30012", "merchant_id": "21377"})


@pytest.fixture
def order(click):
    return shop_order(click, external_id="7001", external_number="2001", currency="UZS", total=Decimal("150000.00"))


@pytest.fixture
def post(client, click):
    def send(step: str, fields: dict[str, str]) -> dict:
        response = client.post(f"/api/payments/click/{click.route_key}/{step}/", data=fields)
        assert response.status_code == 200
        return response.json()
    return send


def prepared(post) -> int:
    return post("prepare", form("prepare__ok"))["merchant_prepare_id"]


def test_the_sign_string_is_md5_of_the_fields_in_clicks_order():
    fields = form("complete__ok", merchant_prepare_id="17")
    expected = hashlib.md5(b"285471600330012" + SECRET.encode() + b"200117150000.0012024-05-29 15:04:19").hexdigest()
    assert fields["sign_string"] == expected
    assert sign.verify(fields, SECRET, complete=True)
    assert not sign.verify({**fields, "amount": "1.00"}, SECRET, complete=True)


def test_prepare__ok_then_complete__ok_pays_the_order(post, order):
    answer = post("prepare", form("prepare__ok"))
    tx = PaymentTransaction.objects.get()
    assert answer == {"click_trans_id": 2854716003, "merchant_trans_id": "2001", "merchant_prepare_id": tx.pk,
                      "error": 0, "error_note": "Success"}

    done = post("complete", form("complete__ok", merchant_prepare_id=str(tx.pk)))

    assert done == {"click_trans_id": 2854716003, "merchant_trans_id": "2001", "merchant_confirm_id": tx.pk,
                    "error": 0, "error_note": "Success"}
    order.refresh_from_db()
    tx.refresh_from_db()
    assert order.status == "paid" and tx.state == 2 and tx.external_id == "2854716003"


def test_a_tampered_request_fails_the_sign_check_and_changes_nothing(post, order):
    fields = form("prepare__ok")
    fields["amount"] = "1.00"  # changed after signing
    assert post("prepare", fields)["error"] == -1
    assert post("prepare", form("prepare__ok", secret="someone-else"))["error_note"] == "SIGN CHECK FAILED!"
    tx_id = prepared(post)
    tampered = form("complete__ok", merchant_prepare_id=str(tx_id))
    tampered["merchant_prepare_id"] = str(tx_id + 1)
    assert post("complete", tampered)["error"] == -1
    order.refresh_from_db()
    assert order.status == "pending" and PaymentTransaction.objects.get().state == 1


def test_prepare_and_complete_are_idempotent_on_click_trans_id(post, order):
    first, again = post("prepare", form("prepare__ok")), post("prepare", form("prepare__ok"))
    assert first == again and PaymentTransaction.objects.count() == 1
    fields = form("complete__ok", merchant_prepare_id=str(first["merchant_prepare_id"]))
    done, repeat = post("complete", fields), post("complete", fields)
    assert done == repeat and done["error"] == 0
    assert post("prepare", form("prepare__ok"))["error"] == -4  # performed: a new prepare is "already paid"


def test_prepare__wrong_amount(post, order):
    assert post("prepare", form("prepare__wrong_amount"))["error"] == -2


def test_prepare__order_not_found(post, order):
    answer = post("prepare", form("prepare__order_not_found"))
    assert answer["error"] == -5 and answer["merchant_prepare_id"] is None


def test_prepare__wrong_action(post, order):
    assert post("prepare", form("prepare__wrong_action", merchant_prepare_id="1"))["error"] == -3


def test_prepare__missing_field(post, order):
    fields = form("prepare__missing_field")
    assert post("prepare", fields) == {"click_trans_id": 2854716003, "merchant_trans_id": "2001",
                                       "merchant_prepare_id": None, "error": -8,
                                       "error_note": "Error in request from click"}


def test_complete__payment_failed_cancels_the_transaction(post, order):
    tx_id = prepared(post)
    answer = post("complete", form("complete__payment_failed", merchant_prepare_id=str(tx_id)))
    assert answer["error"] == -9
    tx = PaymentTransaction.objects.get()
    assert tx.state == -1 and tx.reason == -5017
    order.refresh_from_db()
    assert order.status == "pending"


def test_complete__unknown_transaction(post, order):
    tx_id = prepared(post)
    assert post("complete", form("complete__unknown_transaction", merchant_prepare_id=str(tx_id)))["error"] == -6


def test_an_order_paid_another_way_is_already_paid(post, order):
    tx_id = prepared(post)
    Order.objects.filter(pk=order.pk).update(status="paid")
    assert post("complete", form("complete__ok", merchant_prepare_id=str(tx_id)))["error"] == -4
    assert PaymentTransaction.objects.get().state == -1  # Click must not take the money


def test_a_new_prepare_supersedes_an_abandoned_one(post, order):
    old = prepared(post)
    new = post("prepare", form("prepare__ok", click_trans_id="2854716004"))
    assert new["error"] == 0
    assert post("complete", form("complete__ok", merchant_prepare_id=str(old)))["error"] == -9
    fields = form("complete__ok", click_trans_id="2854716004", merchant_prepare_id=str(new["merchant_prepare_id"]))
    assert post("complete", fields)["error"] == 0


def test_calls_are_logged_inbound(post, order):
    prepared(post)
    row = IntegrationLog.objects.get()
    assert row.action == "click.prepare" and row.direction == "inbound" and SECRET not in json.dumps(row.request)


def test_test_connection_says_where_click_must_call(click):
    from integrations.services import integration_test_connection

    result = integration_test_connection(integration=click)
    assert result.ok and "/api/payments/click/click-uz/prepare/" in result.detail
    click.config = {}
    assert not integration_test_connection(integration=click).ok
