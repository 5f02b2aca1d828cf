"""Fake connectors registered for a test: a channel that records pushes, a courier that books shipments."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.base import Connector
from connectors.capabilities import FulfillmentSink, OrdersSource, ShipmentCreator, StockSink
from connectors.errors import ProviderError, ProviderUnavailable


class FakeChannel(OrdersSource, StockSink, FulfillmentSink, Connector):
    key = "fake-channel"
    display_name = "Fake channel"
    integration_type = "ecommerce"
    inventory_calls: ClassVar[list[list[dict]]] = []
    fulfillment_calls: ClassVar[list[dict]] = []
    fail_with: ClassVar[Exception | None] = None

    def push_inventory(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        self.inventory_calls.append(items)
        return {"updated": len(items)}

    def stock_locations(self) -> list[dict[str, Any]]:
        return [{"id": "L1", "name": "Warehouse", "pushable": True}]

    def push_fulfillment(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        self.fulfillment_calls.append(fulfillment)
        return {"external_id": f"F-{len(self.fulfillment_calls)}"}


class FakeCourier(ShipmentCreator, Connector):
    key = "fake-courier"
    display_name = "Fake courier"
    integration_type = "shipping"
    booked: ClassVar[list[dict]] = []
    refuse_country: ClassVar[str] = ""

    def create_shipment(self, shipment: dict[str, Any]) -> dict[str, Any]:
        if shipment["address"].get("country_code") == self.refuse_country:
            raise ProviderError("The courier refused the shipment.", status_code=422)
        self.booked.append(shipment)
        return {"tracking_number": f"FC{len(self.booked):09d}RO", "carrier": "Fake Courier"}


def reset() -> None:
    FakeChannel.inventory_calls.clear()
    FakeChannel.fulfillment_calls.clear()
    FakeChannel.fail_with = None
    FakeCourier.booked.clear()
    FakeCourier.refuse_country = ""


__all__ = ["FakeChannel", "FakeCourier", "ProviderError", "ProviderUnavailable", "reset"]
