"""Random interleavings of ERP adjustments, channel webhooks and push outcomes: the channel converges, never loops.

Hypothesis drives a shop in `push` mode with two mapped locations. The channel
is a fake that keeps its own levels and, like Shopify, reports every write back
as a webhook; the machine delivers any report any number of times, in any
order (duplicates, reordering, echoes of our own pushes, stale ones), and each
push succeeds, is throttled (429) or fails (503). Invariants after every step:
every value written is the ERP's sellable quantity at that moment, the channel
never holds more than the ERP has ever offered there, and the writes never
outnumber the ERP's changes. At the end, with the channel answering again, every
mapped location holds the ERP's quantity.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from commerce.models import ChannelLocation, ExternalRef, Product, StockLevel
from commerce.services import adjust_stock, stock_mode_set, upsert_inventory_levels
from connectors import registry
from connectors.base import Capability, Connector
from connectors.errors import ProviderUnavailable
from syncjobs.pushes import inventory_push_send
from tests.factories import IntegrationFactory, OrganizationFactory

LOCATIONS = {"L1": "main", "L2": "annex"}
START = datetime(2026, 11, 1, tzinfo=UTC)


class FuzzChannel(Connector):
    """A channel that holds levels, answers writes with the level it now holds, and reports each write back."""

    key = "fuzz-channel"
    display_name = "Fuzz channel"
    integration_type = "ecommerce"
    capabilities = frozenset({Capability.INVENTORY})
    stock_nets_open_orders = True
    inventory_push_batch = 1
    levels: ClassVar[dict[str, int]] = {}
    reports: ClassVar[list[dict[str, Any]]] = []
    writes: ClassVar[list[tuple[str, int]]] = []
    outcome: ClassVar[str] = "ok"
    clock: ClassVar[int] = 0

    def push_inventory(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        if self.outcome != "ok":
            status = 429 if self.outcome == "429" else 503
            raise ProviderUnavailable("the channel is busy", status_code=status)
        answered = []
        for item in items:
            FuzzChannel.clock += 1
            location, quantity = item["location_id"], int(item["available"])
            FuzzChannel.levels[location] = quantity
            FuzzChannel.writes.append((location, quantity))
            level = {"inventory_item_id": "item-1", "location_id": location, "available": quantity,
                     "updated_at": START + timedelta(seconds=FuzzChannel.clock)}
            FuzzChannel.reports.append(level)  # the webhook the channel sends about our write
            answered.append(level)
        return {"updated": len(items), "levels": answered}

    def stock_locations(self) -> list[dict[str, Any]]:
        return [{"id": loc, "name": loc, "pushable": True} for loc in LOCATIONS]


class StockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        FuzzChannel.levels, FuzzChannel.reports, FuzzChannel.writes = {}, [], []
        FuzzChannel.outcome, FuzzChannel.clock = "ok", 0
        self.org = OrganizationFactory()
        self.shop = IntegrationFactory(organization=self.org, provider=FuzzChannel.key, status="active")
        self.product = Product.objects.create(organization=self.org, sku="SKU-F", name="Fuzz")
        for kind, external_id in (("variant", "variant-1"), ("inventory_item", "item-1")):
            ExternalRef.objects.create(integration=self.shop, resource_type=kind, external_id=external_id,
                                       object_id=self.product.pk)
        for external_id, erp_location in LOCATIONS.items():
            ChannelLocation.objects.create(organization=self.org, integration=self.shop, external_id=external_id,
                                           erp_location=erp_location)
        # Connected and imported (the channel was the source), then the ERP becomes the source.
        FuzzChannel.levels = {"L1": 10, "L2": 4}
        upsert_inventory_levels(integration=self.shop, levels=[
            {"inventory_item_id": "item-1", "location_id": loc, "available": qty, "updated_at": START}
            for loc, qty in FuzzChannel.levels.items()])
        self.shop = stock_mode_set(integration=self.shop, mode="push")
        self.erp_changes = 0
        self.offered = {loc: {self.sellable(loc)} for loc in LOCATIONS}

    def sellable(self, location: str) -> int:
        level = StockLevel.objects.filter(product=self.product, location=LOCATIONS[location]).first()
        return 0 if level is None else max(0, level.on_hand - level.reserved)

    @rule(location=st.sampled_from(sorted(LOCATIONS)), delta=st.integers(-5, 5).filter(bool))
    def erp_adjustment(self, location: str, delta: int) -> None:
        level = StockLevel.objects.get(product=self.product, location=LOCATIONS[location])
        if level.on_hand + delta < 0:
            return
        adjust_stock(stock_level=level, delta=delta)
        self.erp_changes += 1
        self.offered[location].add(self.sellable(location))

    @rule(data=st.data())
    def channel_webhook(self, data) -> None:
        """Any report the channel ever sent, again: a duplicate, a late one, an echo of our own write."""
        if not FuzzChannel.reports:
            return
        report = data.draw(st.sampled_from(FuzzChannel.reports))
        upsert_inventory_levels(integration=self.shop, levels=[dict(report)])

    @rule(outcome=st.sampled_from(["ok", "ok", "429", "503"]))
    def push_runs(self, outcome: str) -> None:
        FuzzChannel.outcome = outcome
        writes_before = len(FuzzChannel.writes)
        try:
            inventory_push_send(integration_id=self.shop.pk)
        except ProviderUnavailable:
            assert outcome != "ok"
        for location, quantity in FuzzChannel.writes[writes_before:]:
            assert quantity == self.sellable(location)  # each write is the ERP's figure at that moment

    @invariant()
    def never_more_than_the_erp_offered_and_no_more_writes_than_changes(self) -> None:
        for location, quantity in FuzzChannel.levels.items():
            assert quantity in self.offered[location]
        assert len(FuzzChannel.writes) <= self.erp_changes

    def teardown(self) -> None:
        FuzzChannel.outcome = "ok"
        for _ in range(3):
            inventory_push_send(integration_id=self.shop.pk)
        for location in LOCATIONS:
            assert FuzzChannel.levels[location] == self.sellable(location), (location, FuzzChannel.writes)
        assert len(FuzzChannel.writes) <= self.erp_changes


@pytest.mark.django_db
def test_random_interleavings_converge_without_echo_writes():
    registry.register(FuzzChannel)
    try:
        run_state_machine_as_test(StockMachine, settings=settings(
            max_examples=60, stateful_step_count=25, deadline=None, derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        registry.unregister(FuzzChannel.key)
