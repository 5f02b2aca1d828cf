"""Payme's transaction state machine over PaymentTransaction rows, one function per merchant API method.

States: 1 created → 2 performed, or → -1 cancelled (before perform); 2 → -2
cancelled after perform (the order is refunded). Every method is idempotent on
Payme's transaction id: asking again answers the same times and state. A
created transaction older than 12 hours (by Payme's `time`) is cancelled with
reason 4 when Payme next touches it, and cannot be performed.

Concurrency: each method locks the transaction row (and CreateTransaction the
order row) in one database transaction, and the table allows one open (state 1)
transaction per order, so two transactions cannot both pay one order.
All amounts are in tiyin (1 UZS = 100 tiyin) and all times in epoch milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors.models import PaymentState, PaymentTransaction
from connectors.payments import OrderFacts, OrderNotFound, find_order, from_minor_units, minor_units, order_book
from integrations.models import Integration

from . import errors
from .errors import PaymeError

PROVIDER = "payme"
TIMEOUT = timedelta(milliseconds=43_200_000)  # 12 h for a created transaction
REASON_TIMEOUT = 4  # Payme's reason code for "cancelled by timeout"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(value: datetime | None) -> int:
    return 0 if value is None else (value - EPOCH) // timedelta(milliseconds=1)


def from_ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


def _now() -> datetime:
    now = timezone.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # Payme's times are whole milliseconds


def account_field(integration: Integration) -> str:
    config = integration.config if isinstance(integration.config, dict) else {}
    return str(config.get("account_field") or "order_id")


# ---------------------------------------------------------------- results
def _create_result(tx: PaymentTransaction) -> dict[str, Any]:
    return {"create_time": to_ms(tx.created_at), "transaction": str(tx.pk), "state": tx.state, "receivers": None}


def _perform_result(tx: PaymentTransaction) -> dict[str, Any]:
    return {"transaction": str(tx.pk), "perform_time": to_ms(tx.performed_at), "state": tx.state}


def _cancel_result(tx: PaymentTransaction) -> dict[str, Any]:
    return {"transaction": str(tx.pk), "cancel_time": to_ms(tx.cancelled_at), "state": tx.state}


def _check_result(tx: PaymentTransaction) -> dict[str, Any]:
    return {"create_time": to_ms(tx.created_at), "perform_time": to_ms(tx.performed_at),
            "cancel_time": to_ms(tx.cancelled_at), "transaction": str(tx.pk), "state": tx.state, "reason": tx.reason}


# ---------------------------------------------------------------- helpers
def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PaymeError(errors.WRONG_AMOUNT, "amount")
    return value


def _payable_order(integration: Integration, amount: int, account: Any) -> OrderFacts:
    """The order `account` names, if it awaits exactly `amount` tiyin; PaymeError otherwise."""
    field = account_field(integration)
    if not isinstance(account, dict) or not account.get(field):
        raise PaymeError(errors.ORDER_NOT_FOUND, field)
    try:
        order = find_order(integration, account[field])
    except OrderNotFound:
        raise PaymeError(errors.ORDER_NOT_FOUND, field) from None
    if order.standing != "pending" or order.currency.upper() != "UZS":
        raise PaymeError(errors.ORDER_NOT_PAYABLE, field)
    if minor_units(order.total, "UZS") != _amount(amount):
        raise PaymeError(errors.WRONG_AMOUNT, "amount")
    return order


def _locked(integration: Integration, payme_id: Any) -> PaymentTransaction:
    if not isinstance(payme_id, str) or not payme_id:
        raise PaymeError(errors.INVALID_REQUEST, "id")
    tx = (PaymentTransaction.objects.select_for_update(of=("self",))
          .filter(integration=integration, external_id=payme_id).first())
    if tx is None:
        raise PaymeError(errors.TRANSACTION_NOT_FOUND, "id")
    return tx


def _expired(tx: PaymentTransaction, now: datetime) -> bool:
    started = tx.provider_time or tx.created_at
    return now - started > TIMEOUT


def _cancel(tx: PaymentTransaction, *, state: int, reason: int | None, now: datetime) -> None:
    tx.state, tx.reason, tx.cancelled_at = state, reason, now
    tx.save(update_fields=["state", "reason", "cancelled_at", "updated_at"])


# ---------------------------------------------------------------- methods
def check_perform_transaction(integration: Integration, *, amount: Any, account: Any) -> dict[str, Any]:
    _payable_order(integration, amount, account)
    return {"allow": True}


def create_transaction(integration: Integration, *, payme_id: Any, time: Any, amount: Any,
                       account: Any) -> dict[str, Any]:
    if not isinstance(payme_id, str) or not payme_id:
        raise PaymeError(errors.INVALID_REQUEST, "id")
    if isinstance(time, bool) or not isinstance(time, int):
        raise PaymeError(errors.INVALID_REQUEST, "time")
    timed_out = False
    with transaction.atomic():
        existing = (PaymentTransaction.objects.select_for_update(of=("self",))
                    .filter(integration=integration, external_id=payme_id).first())
        if existing is not None:
            if existing.state != PaymentState.CREATED:
                raise PaymeError(errors.CANNOT_PERFORM, "id")
            now = _now()
            if _expired(existing, now):
                _cancel(existing, state=PaymentState.CANCELLED, reason=REASON_TIMEOUT, now=now)
                timed_out = True
            else:
                return _create_result(existing)
        else:
            order = _payable_order(integration, amount, account)
            # One CreateTransaction per order at a time: lock the order row until this transaction ends.
            if order_book().order_get(organization_id=integration.organization_id, order_id=order.id,
                                      lock=True) is None:
                raise PaymeError(errors.ORDER_NOT_FOUND, account_field(integration))  # deleted meanwhile
            busy = PaymentTransaction.objects.filter(integration=integration, order_id=order.id,
                                                     state=PaymentState.CREATED)
            if busy.exists():
                raise PaymeError(errors.ORDER_BUSY, account_field(integration))
            try:
                with transaction.atomic():
                    tx = PaymentTransaction.objects.create(
                        provider=PROVIDER, integration=integration, external_id=payme_id, order_id=order.id,
                        amount=from_minor_units(amount, "UZS"), currency="UZS", state=PaymentState.CREATED,
                        provider_time=from_ms(time), created_at=_now(), account=account,
                    )
            except IntegrityError:
                raise PaymeError(errors.ORDER_BUSY, account_field(integration)) from None
            return _create_result(tx)
    if timed_out:
        raise PaymeError(errors.CANNOT_PERFORM, "id")
    raise AssertionError("unreachable")


def perform_transaction(integration: Integration, *, payme_id: Any) -> dict[str, Any]:
    timed_out = False
    with transaction.atomic():
        tx = _locked(integration, payme_id)
        if tx.state == PaymentState.PERFORMED:
            return _perform_result(tx)
        if tx.state != PaymentState.CREATED:
            raise PaymeError(errors.CANNOT_PERFORM, "id")
        now = _now()
        if _expired(tx, now):
            _cancel(tx, state=PaymentState.CANCELLED, reason=REASON_TIMEOUT, now=now)
            timed_out = True
        else:
            if tx.order_id is None or order_book().order_mark_paid(order_id=tx.order_id) != "changed":
                raise PaymeError(errors.CANNOT_PERFORM, "id")  # the order was deleted, cancelled or paid meanwhile
            tx.state, tx.performed_at = PaymentState.PERFORMED, now
            tx.save(update_fields=["state", "performed_at", "updated_at"])
            return _perform_result(tx)
    if timed_out:
        raise PaymeError(errors.CANNOT_PERFORM, "id")
    raise AssertionError("unreachable")


def cancel_transaction(integration: Integration, *, payme_id: Any, reason: Any) -> dict[str, Any]:
    if isinstance(reason, bool) or not isinstance(reason, int):
        raise PaymeError(errors.INVALID_REQUEST, "reason")
    with transaction.atomic():
        tx = _locked(integration, payme_id)
        if tx.state in (PaymentState.CANCELLED, PaymentState.CANCELLED_AFTER_PERFORM):
            return _cancel_result(tx)
        now = _now()
        if tx.state == PaymentState.CREATED:
            _cancel(tx, state=PaymentState.CANCELLED, reason=reason, now=now)
            return _cancel_result(tx)
        order = order_book().order_get(organization_id=integration.organization_id, order_id=tx.order_id,
                                       lock=True)
        if order is not None and order.standing == "shipped":  # a performed payment of a shipped order stays
            raise PaymeError(errors.CANNOT_CANCEL, "id")
        if order is not None and order.standing == "paid":
            order_book().order_mark_refunded(order_id=order.id)
        _cancel(tx, state=PaymentState.CANCELLED_AFTER_PERFORM, reason=reason, now=now)
        return _cancel_result(tx)


def check_transaction(integration: Integration, *, payme_id: Any) -> dict[str, Any]:
    with transaction.atomic():
        return _check_result(_locked(integration, payme_id))


def get_statement(integration: Integration, *, start: Any, end: Any) -> dict[str, Any]:
    """Transactions whose Payme `time` is within [from, to], oldest first."""
    for name, value in (("from", start), ("to", end)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise PaymeError(errors.INVALID_REQUEST, name)
    rows = (PaymentTransaction.objects.filter(integration=integration, provider=PROVIDER,
                                              provider_time__gte=from_ms(start), provider_time__lte=from_ms(end))
            .order_by("provider_time", "pk"))
    return {"transactions": [
        {"id": tx.external_id, "time": to_ms(tx.provider_time), "amount": minor_units(tx.amount, "UZS"),
         "account": tx.account, **_check_result(tx), "receivers": None}
        for tx in rows
    ]}


def change_password(integration: Integration, *, password: Any) -> dict[str, Any]:
    """Payme rotates the cashbox key: the new one replaces `api_key` (encrypted) for the next calls."""
    if not isinstance(password, str) or not password:
        raise PaymeError(errors.INVALID_REQUEST, "password")
    integration.api_key = password
    integration.save(update_fields=["api_key", "updated_at"])
    return {"success": True}
