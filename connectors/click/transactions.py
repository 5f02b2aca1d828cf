"""Click's two steps over PaymentTransaction rows: prepare (state 1) and complete (state 2, the order paid).

Idempotent on Click's `click_trans_id`: a prepare repeated answers the same
`merchant_prepare_id`, a complete repeated answers success with the same
`merchant_confirm_id` and pays nothing twice. A complete carrying Click's own
failure (`error` < 0) cancels the transaction (-9). A new prepare for an order
whose earlier Click transaction was prepared but never completed supersedes it
(the payer started again); that earlier one can then no longer complete (-9).

Amounts are UZS as Click writes them ("1000" or "1000.00"), compared to the
order's total exactly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from connectors.models import PaymentState, PaymentTransaction
from connectors.payments import OrderNotFound, find_order, order_book
from integrations.models import Integration

from . import errors
from .errors import ClickError

PROVIDER = "click"
PAID_OR_LATER = ("paid", "shipped")  # order standings (connectors.payments.OrderStanding)
SUPERSEDED = 1  # cancel reason of a prepared transaction replaced by a newer prepare


def _amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ClickError(errors.BAD_REQUEST) from None
    if not amount.is_finite() or amount <= 0:
        raise ClickError(errors.WRONG_AMOUNT)
    return amount


def prepare(integration: Integration, fields: dict[str, str]) -> dict[str, Any]:
    amount = _amount(fields["amount"])
    with transaction.atomic():
        existing = (PaymentTransaction.objects.select_for_update(of=("self",))
                    .filter(integration=integration, external_id=fields["click_trans_id"]).first())
        if existing is not None:
            return {"merchant_prepare_id": existing.pk, **_repeat(existing, amount, prepared=True)}
        try:
            found = find_order(integration, fields["merchant_trans_id"])
        except OrderNotFound:
            raise ClickError(errors.ORDER_NOT_FOUND) from None
        order = order_book().order_get(organization_id=integration.organization_id, order_id=found.id, lock=True)
        if order is None:  # deleted since it was found
            raise ClickError(errors.ORDER_NOT_FOUND)
        if order.total != amount or order.currency.upper() != "UZS":
            raise ClickError(errors.WRONG_AMOUNT)
        if order.standing in PAID_OR_LATER:
            raise ClickError(errors.ALREADY_PAID)
        if order.standing != "pending":
            raise ClickError(errors.CANCELLED)
        now = timezone.now()
        superseded = PaymentTransaction.objects.filter(integration=integration, order_id=order.id,
                                                       state=PaymentState.CREATED)
        superseded.update(state=PaymentState.CANCELLED, reason=SUPERSEDED, cancelled_at=now, updated_at=now)
        try:
            with transaction.atomic():
                tx = PaymentTransaction.objects.create(
                    provider=PROVIDER, integration=integration, external_id=fields["click_trans_id"], order_id=order.id,
                    amount=amount, currency="UZS", state=PaymentState.CREATED, created_at=now,
                    account={"merchant_trans_id": fields["merchant_trans_id"]},
                    metadata={"click_paydoc_id": fields["click_paydoc_id"], "sign_time": fields["sign_time"]},
                )
        except IntegrityError:
            raise ClickError(errors.UPDATE_FAILED) from None  # a concurrent prepare of the same id; Click retries
    return {"merchant_prepare_id": tx.pk, "error": errors.SUCCESS}


def _repeat(tx: PaymentTransaction, amount: Decimal, *, prepared: bool) -> dict[str, Any]:
    """The answer to a step Click repeats for a transaction we already have."""
    if tx.amount != amount:
        raise ClickError(errors.WRONG_AMOUNT)
    if tx.state in (PaymentState.CANCELLED, PaymentState.CANCELLED_AFTER_PERFORM):
        raise ClickError(errors.CANCELLED)
    if prepared and tx.state == PaymentState.PERFORMED:
        raise ClickError(errors.ALREADY_PAID)
    return {"error": errors.SUCCESS}


def complete(integration: Integration, fields: dict[str, str]) -> dict[str, Any]:
    amount = _amount(fields["amount"])
    prepare_id = fields["merchant_prepare_id"]
    cancelled = False
    with transaction.atomic():
        tx = (PaymentTransaction.objects.select_for_update(of=("self",))
              .filter(integration=integration, provider=PROVIDER, pk=int(prepare_id) if prepare_id.isdigit() else 0,
                      external_id=fields["click_trans_id"]).first())
        if tx is None:
            raise ClickError(errors.TRANSACTION_NOT_FOUND)
        if tx.state == PaymentState.PERFORMED:
            _repeat(tx, amount, prepared=False)
            return {"merchant_confirm_id": tx.pk, "error": errors.SUCCESS}
        _repeat(tx, amount, prepared=False)
        now = timezone.now()
        if _click_failed(fields["error"]):
            tx.state, tx.reason, tx.cancelled_at = PaymentState.CANCELLED, int(fields["error"]), now
            tx.save(update_fields=["state", "reason", "cancelled_at", "updated_at"])
            cancelled = True
        elif tx.order_id is None:
            raise ClickError(errors.ORDER_NOT_FOUND)
        else:
            outcome = order_book().order_mark_paid(order_id=tx.order_id)
            if outcome != "changed":  # paid some other way meanwhile, or cancelled: Click must not take the money
                tx.state, tx.cancelled_at = PaymentState.CANCELLED, now
                tx.save(update_fields=["state", "cancelled_at", "updated_at"])
                code = errors.ALREADY_PAID if outcome == "unchanged" else errors.CANCELLED
            else:
                tx.state, tx.performed_at = PaymentState.PERFORMED, now
                tx.save(update_fields=["state", "performed_at", "updated_at"])
                return {"merchant_confirm_id": tx.pk, "error": errors.SUCCESS}
    if cancelled:
        raise ClickError(errors.CANCELLED)
    raise ClickError(code)


def _click_failed(error: str) -> bool:
    try:
        return int(error) < 0
    except ValueError:
        return False
