"""Fetching shipping labels from the provider that prints them, and telling channels a parcel was delivered.

Which provider prints a parcel's label: the courier integration that booked it (`Fulfillment.courier`, set by
auto-fulfil), when its connector is a LabelSource (FAN Courier's AWB PDF); otherwise the order's channel, when
the channel ships the parcel itself and is a LabelSource (a marketplace's own label). Anything else is
CAPABILITY_NOT_SUPPORTED with the reason. The provider is called outside any transaction; the label is
stored through commerce (`label_store`), replacing an earlier copy of the same parcel's label.

Delivery confirmations (`delivery_push`) are the task behind commerce's `delivery_push_nudge`: once per
fulfillment (its `delivery_pushed_at`), for channels that are DeliveryNotifiers; the outcome is recorded on
the fulfillment either way (`delivery_push_attempted_at`, and the error), and the provider call is in the
integration's call log. A transient refusal (throttled, the channel down) is raised after it is recorded, so the
task retries with backoff; the parcels already confirmed are not sent again. A nudge lost before any attempt
(the broker down at commit, a worker killed) is found by `delivery_pushes_sweep`: some marketplaces pay the
seller only once delivery is confirmed, so a lost one is money held back.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

from commerce.models import Fulfillment, LabelSource, Order, ShippingLabel
from commerce.outbox import delivery_push_nudge
from commerce.services import label_store
from config.errors import ApplicationError, CapabilityNotSupported, NotFound, ValidationError
from connectors import registry
from connectors.base import Capability
from connectors.capabilities import DeliveryNotifier
from connectors.errors import is_transient
from integrations.models import Integration

logger = logging.getLogger(__name__)


def _label_provider(fulfillment: Fulfillment) -> tuple[Integration, str]:
    courier, channel = fulfillment.courier, fulfillment.order.integration
    for integration, source in ((courier, LabelSource.COURIER), (channel, LabelSource.CHANNEL)):
        if (integration is not None and registry.is_registered(integration.provider)
                and registry.supports(integration.provider, Capability.LABELS)):
            return integration, source
    raise CapabilityNotSupported(
        f"No label source for {fulfillment.carrier} {fulfillment.tracking_number}: it was not booked with a "
        "courier integration that prints labels, and the order's channel prints none.",
        details={"fulfillment": fulfillment.pk})


def label_fetch(*, fulfillment: Fulfillment) -> ShippingLabel:
    """Fetch and store the label of one fulfillment's parcel; ApplicationError (the provider's, or
    CAPABILITY_NOT_SUPPORTED) when there is none to be had."""
    fulfillment = Fulfillment.objects.select_related("order__integration", "order__organization", "courier").get(
        pk=fulfillment.pk)
    integration, source = _label_provider(fulfillment)
    document = registry.connector_for(integration).fetch_label({
        "tracking_number": fulfillment.tracking_number, "order_external_id": fulfillment.order.external_id,
        "fulfillment_external_id": fulfillment.external_id, "carrier": fulfillment.carrier})
    return label_store(order=fulfillment.order, tracking_number=fulfillment.tracking_number,
                       content=document["content"], content_type=document.get("content_type") or "application/pdf",
                       integration=integration, fulfillment=fulfillment, source=source)


def order_labels_fetch(*, order: Order) -> list[ShippingLabel]:
    """Fetch the labels of every parcel of an order (newest first); ValidationError when it has none yet."""
    fulfillments = list(order.fulfillments.all())
    if not fulfillments:
        raise ValidationError("The order has no shipment yet: fulfil it (or auto-fulfil it) first.",
                              details={"order": order.pk}, code="ORDER_NOT_SHIPPED")
    return [label_fetch(fulfillment=f) for f in fulfillments]


def labels_fetch(*, organization, order_ids: list[int], missing_only: bool = True) -> dict[str, Any]:
    """Fetch the labels of many orders, each on its own: one failure is reported and the others go on."""
    orders = {o.pk: o for o in Order.objects.filter(organization=organization, pk__in=order_ids)}
    have = set(ShippingLabel.objects.filter(order_id__in=list(orders)).values_list("order_id", flat=True))
    results = []
    for pk in order_ids:
        order = orders.get(pk)
        if order is None:
            results.append({"order_id": pk, "ok": False, "error": {"code": "ORDER_NOT_FOUND",
                                                                    "message": "No such order."}})
            continue
        if missing_only and pk in have:
            results.append({"order_id": pk, "ok": True, "fetched": 0})
            continue
        try:
            fetched = order_labels_fetch(order=order)
        except ApplicationError as exc:
            results.append({"order_id": pk, "ok": False, "error": {"code": exc.code, "message": exc.message}})
        else:
            results.append({"order_id": pk, "ok": True, "fetched": len(fetched)})
    return {"fetched": sum(r.get("fetched", 0) for r in results), "failed": sum(1 for r in results if not r["ok"]),
            "results": results}


# ---------------------------------------------------------------------- delivery confirmations
def delivery_push(*, order_id: int) -> dict[str, int]:
    """Tell the order's channel each not-yet-confirmed parcel was delivered (DeliveryNotifier channels only)."""
    order = Order.objects.select_related("integration").filter(pk=order_id).first()
    if order is None:
        raise NotFound("Order not found.", details={"id": order_id})
    channel = order.integration
    counts = {"pushed": 0, "failed": 0, "skipped": 0}
    if channel is None or not registry.is_registered(channel.provider) or not issubclass(
            registry.get(channel.provider), DeliveryNotifier) or order.delivered_at is None:
        return counts
    connector = registry.connector_for(channel)
    for fulfillment in order.fulfillments.filter(delivery_pushed_at__isnull=True).order_by("pk"):
        try:
            answer = connector.push_delivery({
                "order_id": order.external_id, "tracking_number": fulfillment.tracking_number,
                "fulfillment_external_id": fulfillment.external_id, "delivered_at": order.delivered_at})
        except ApplicationError as exc:
            error = f"{exc.code}: {exc.message}"[:2000]
            Fulfillment.objects.filter(pk=fulfillment.pk).update(delivery_push_error=error,
                                                                 delivery_push_attempted_at=timezone.now())
            logger.warning("delivery confirmation of fulfillment %s failed (%s)", fulfillment.pk, exc.code)
            if is_transient(exc):
                raise  # the task retries with backoff; what was confirmed above is not sent again
            counts["failed"] += 1
            continue
        now = timezone.now()
        if answer is None:  # nothing to confirm at this channel (its carrier reports delivery itself)
            Fulfillment.objects.filter(pk=fulfillment.pk).update(delivery_push_attempted_at=now)
            counts["skipped"] += 1
            continue
        Fulfillment.objects.filter(pk=fulfillment.pk).update(delivery_pushed_at=now, delivery_push_error="",
                                                             delivery_push_attempted_at=now)
        counts["pushed"] += 1
    return counts


DELIVERY_SWEEP_AFTER = timedelta(minutes=15)  # the nudge's own run has long finished by then
DELIVERY_SWEEP_WITHIN = timedelta(days=14)  # older deliveries are not worth telling a channel about any more


def delivery_pushes_sweep(*, limit: int = 500) -> list[int]:
    """The orders delivered a while ago whose channel takes delivery confirmations and was never asked for one
    of their parcels (a lost nudge); each is nudged again. A parcel asked about once — confirmed, skipped, or
    refused (its error is on the fulfillment for an operator) — is not asked again here."""
    notifiers = [key for key, cls in registry.providers().items() if issubclass(cls, DeliveryNotifier)]
    now = timezone.now()
    ids = list(Fulfillment.objects.filter(
        order__integration__provider__in=notifiers, order__delivered_at__lt=now - DELIVERY_SWEEP_AFTER,
        order__delivered_at__gt=now - DELIVERY_SWEEP_WITHIN, delivery_pushed_at__isnull=True,
        delivery_push_attempted_at__isnull=True,
    ).order_by("order_id").values_list("order_id", flat=True).distinct()[:limit])
    for order_id in ids:
        delivery_push_nudge(order_id)
    return ids
