"""Payme's merchant API as Payme calls it: POST /api/payments/payme/<code>/, JSON-RPC, Basic auth.

Requests are recorded in tests/fixtures/payme/<method>__<case>.json (one test per fixture); Payme's `time`
is set to now where the 12-hour timeout would otherwise apply. Every answer is HTTP 200.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from decimal import Decimal

import pytest

from commerce.models import Order
from connectors.models import PaymentTransaction
from connectors.payme import errors
from integrations.models import IntegrationLog
from tests.connectors.support import Recorded, shop_order
from tests.factories import IntegrationFactory

KEY = "CashboxKey&0001#test"
TX = "5305e3bab097f420a62ced0b"
HOUR_MS = 3_600_000


fixture = Recorded("payme")


def request(name: str, **params) -> dict:
    body = copy.deepcopy(fixture(name))
    body.setdefault("params", {}).update(params)
    if "time" in body["params"] and "time" not in params:
        body["params"]["time"] = now_ms()
    return body


def now_ms() -> int:
    return int(time.time() * 1000)


def basic(login: str = "Paycom", key: str = KEY) -> str:
    return "Basic " + base64.b64encode(f"{login}:{key}".encode()).decode()


@pytest.fixture
def payme(db):
    return IntegrationFactory(provider="payme", type="payment_gateway", code="payme-uz", route_key="payme-uz",
                              api_key=KEY,
                              config={"merchant_id": "5e730e8e0b852a417aa49ceb"})


@pytest.fixture
def order(payme):
    return shop_order(payme, external_id="7001", external_number="2001", currency="UZS", total=Decimal("150000.00"))


@pytest.fixture
def call(client, payme):
    def send(body, *, auth: str | None = None, raw: bytes | None = None) -> dict:
        response = client.post(f"/api/payments/payme/{payme.route_key}/",
                               data=raw if raw is not None else json.dumps(body),
                               content_type="application/json",
                               headers={"Authorization": basic() if auth is None else auth})
        assert response.status_code == 200
        return response.json()
    return send


def error_code(answer: dict) -> int:
    return answer["error"]["code"]


# ---------------------------------------------------------------- methods


def test_check_perform_transaction__ok(call, order):
    assert call(request("check_perform_transaction__ok")) == {"jsonrpc": "2.0", "id": 1001,
                                                                "result": {"allow": True}}


def test_check_perform_transaction__wrong_amount(call, order):
    answer = call(request("check_perform_transaction__wrong_amount"))
    assert answer["error"] == {"code": -31001, "data": "amount", "message": {
        "ru": "Неверная сумма", "uz": "Noto'g'ri summa", "en": "Wrong amount"}}


def test_check_perform_transaction__order_not_found(call, order):
    answer = call(request("check_perform_transaction__order_not_found"))
    assert error_code(answer) == errors.ORDER_NOT_FOUND == -31050 and answer["error"]["data"] == "order_id"


def test_create_transaction__ok_is_idempotent_on_paymes_id(call, order):
    first = call(request("create_transaction__ok"))
    again = call(request("create_transaction__ok"))

    tx = PaymentTransaction.objects.get()
    assert first["result"] == again["result"] == {"create_time": first["result"]["create_time"],
                                                  "transaction": str(tx.pk), "state": 1, "receivers": None}
    assert tx.external_id == TX and tx.order == order and tx.amount == Decimal("150000.00")
    assert tx.account == {"order_id": "2001"}


def test_create_transaction__other_open_transaction_of_the_order_is_refused(call, order):
    call(request("create_transaction__ok"))
    answer = call(request("create_transaction__other_open"))
    assert error_code(answer) == errors.ORDER_BUSY == -31099
    assert PaymentTransaction.objects.count() == 1


def test_perform_transaction__ok_marks_the_order_paid_once(call, order):
    call(request("create_transaction__ok"))
    first = call(request("perform_transaction__ok"))
    again = call(request("perform_transaction__ok"))

    assert first["result"]["state"] == 2 and first["result"] == again["result"]
    assert first["result"]["perform_time"] > 0
    order.refresh_from_db()
    assert order.status == "paid"
    assert error_code(call(request("check_perform_transaction__ok"))) == errors.ORDER_NOT_PAYABLE  # paid now


def test_cancel_transaction__before_perform(call, order):
    call(request("create_transaction__ok"))
    answer = call(request("cancel_transaction__before_perform"))

    assert answer["result"]["state"] == -1 and answer["result"]["cancel_time"] > 0
    assert error_code(call(request("perform_transaction__ok"))) == errors.CANNOT_PERFORM
    order.refresh_from_db()
    assert order.status == "pending"
    assert call(request("create_transaction__other_open"))["result"]["state"] == 1  # the order is free again


def test_cancel_transaction__after_perform_refunds_the_order(call, order):
    call(request("create_transaction__ok"))
    call(request("perform_transaction__ok"))
    answer = call(request("cancel_transaction__after_perform"))
    again = call(request("cancel_transaction__after_perform"))

    assert answer["result"]["state"] == -2 and answer["result"] == again["result"]
    order.refresh_from_db()
    assert order.status == "refunded"
    check = call(request("check_transaction__ok"))["result"]
    assert check["state"] == -2 and check["reason"] == 5 and check["perform_time"] > 0
    assert check["cancel_time"] == answer["result"]["cancel_time"]


def test_cancel_after_perform_of_a_shipped_order_is_refused(call, order):
    call(request("create_transaction__ok"))
    call(request("perform_transaction__ok"))
    Order.objects.filter(pk=order.pk).update(status="fulfilled")

    assert error_code(call(request("cancel_transaction__after_perform"))) == errors.CANNOT_CANCEL == -31007
    assert PaymentTransaction.objects.get().state == 2


def test_check_transaction__ok_answers_the_times_and_state(call, order):
    created = call(request("create_transaction__ok"))["result"]
    assert call(request("check_transaction__ok"))["result"] == {
        "create_time": created["create_time"], "perform_time": 0, "cancel_time": 0,
        "transaction": created["transaction"], "state": 1, "reason": None}


def test_check_transaction__not_found(call, order):
    assert error_code(call(request("check_transaction__not_found"))) == errors.TRANSACTION_NOT_FOUND == -31003


def test_get_statement__ok_lists_the_transactions_of_the_period(call, order):
    started = now_ms()
    call(request("create_transaction__ok"))
    call(request("perform_transaction__ok"))

    answer = call(request("get_statement__ok", **{"from": started - HOUR_MS, "to": now_ms() + HOUR_MS}))
    [row] = answer["result"]["transactions"]
    assert row["id"] == TX and row["amount"] == 15000000 and row["account"] == {"order_id": "2001"}
    assert row["state"] == 2 and row["time"] >= started and row["receivers"] is None
    assert call(request("get_statement__ok"))["result"] == {"transactions": []}  # 2014: nothing then


def test_change_password__ok_rotates_the_cashbox_key(call, payme, order):
    assert call(request("change_password__ok"))["result"] == {"success": True}
    payme.refresh_from_db()
    assert payme.api_key == "NewCashboxKey0002"
    assert error_code(call(request("check_perform_transaction__ok"))) == errors.INSUFFICIENT_PRIVILEGE
    assert "result" in call(request("check_perform_transaction__ok"), auth=basic(key="NewCashboxKey0002"))


# ---------------------------------------------------------------- every error path


def test_the_12_hour_timeout_cancels_a_created_transaction(call, order):
    stale = now_ms() - 13 * HOUR_MS
    call(request("create_transaction__ok", time=stale))

    assert error_code(call(request("perform_transaction__ok"))) == errors.CANNOT_PERFORM
    tx = PaymentTransaction.objects.get()
    assert tx.state == -1 and tx.reason == 4
    assert error_code(call(request("create_transaction__ok", time=stale))) == errors.CANNOT_PERFORM
    order.refresh_from_db()
    assert order.status == "pending"


def test_a_wrong_or_missing_key_is_32504(call, order):
    for auth in (basic(key="wrong"), basic(login="Payme"), "Bearer " + KEY, "", "Basic !!!"):
        answer = call(request("check_perform_transaction__ok"), auth=auth)
        assert error_code(answer) == -32504, auth
        assert answer["id"] == 1001


def test_not_json_is_32700(call, order):
    assert error_code(call(None, raw=b"{not json")) == -32700


def test_errors__method_not_found(call, order):
    assert error_code(call(request("errors__method_not_found"))) == -32601


def test_errors__invalid_request(call, order):
    assert error_code(call(request("errors__invalid_request"))) == -32600


def test_a_get_is_32300(client, payme):
    response = client.get(f"/api/payments/payme/{payme.route_key}/", headers={"Authorization": basic()})
    assert response.status_code == 200 and response.json()["error"]["code"] == -32300


def test_an_order_not_awaiting_payment_is_refused(call, order):
    Order.objects.filter(pk=order.pk).update(status="cancelled")
    assert error_code(call(request("create_transaction__ok"))) == errors.ORDER_NOT_PAYABLE == -31051


def test_perform_of_an_unknown_transaction_is_31003(call, order):
    assert error_code(call(request("perform_transaction__ok"))) == -31003
    assert error_code(call(request("cancel_transaction__after_perform"))) == -31003


def test_an_unexpected_failure_is_a_system_error(call, order, monkeypatch):
    from connectors.payme import transactions

    monkeypatch.setattr(transactions, "find_order", lambda *a: 1 / 0)
    assert error_code(call(request("check_perform_transaction__ok"))) == -32400


def test_unknown_code_is_404(client, db):
    response = client.post("/api/payments/payme/nobody/", data="{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"


def test_every_call_leaves_an_inbound_log_row_without_the_key(call, order):
    call(request("create_transaction__ok"))
    call(request("check_perform_transaction__ok"), auth=basic(key="wrong"))
    rows = list(IntegrationLog.objects.order_by("pk"))
    assert [r.action for r in rows] == ["payme.CreateTransaction", "payme.CheckPerformTransaction"]
    assert rows[0].direction == "inbound" and rows[1].error_message.startswith("-32504")
    assert all(KEY not in json.dumps([r.request, r.response]) for r in rows)


def test_test_connection_says_where_payme_must_call(payme):
    from integrations.services import integration_test_connection

    result = integration_test_connection(integration=payme)
    assert result.ok and result.detail.endswith("/api/payments/payme/payme-uz/ (Payme calls it with Basic auth "
                                                "Paycom:<cashbox key>).")
    payme.api_key = ""
    assert integration_test_connection(integration=payme).detail == \
        "The Payme integration needs the cashbox key (api_key)."
