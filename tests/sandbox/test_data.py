import time
from decimal import Decimal

from sandbox.data import ORDER_ID_BASE, ShopData


def test_same_seed_gives_the_same_shop():
    a, b = ShopData(seed=3, orders=50, products=10), ShopData(seed=3, orders=50, products=10)
    assert [a.order(j) for j in range(50)] == [b.order(j) for j in range(50)]
    assert [a.product(i) for i in range(10)] == [b.product(i) for i in range(10)]


def test_another_seed_gives_another_shop_with_the_same_ids():
    a, b = ShopData(seed=3, orders=50, products=10), ShopData(seed=4, orders=50, products=10)
    assert [a.order(j)["id"] for j in range(50)] == [b.order(j)["id"] for j in range(50)]
    assert [a.order(j)["total_price"] for j in range(50)] != [b.order(j)["total_price"] for j in range(50)]


def test_order_totals_add_up_and_lines_name_real_skus():
    shop = ShopData(seed=5, orders=300, products=30)
    skus = {v["sku"] for i in range(30) for v in shop.product(i)["variants"]}
    for j in range(300):
        order = shop.order(j)
        lines = sum(Decimal(line["price"]) * line["quantity"] for line in order["line_items"])
        assert Decimal(order["total_line_items_price"]) == lines
        shipping = Decimal(order["total_shipping_price_set"]["shop_money"]["amount"])
        expected = lines - Decimal(order["total_discounts"]) + Decimal(order["total_tax"]) + shipping
        assert Decimal(order["total_price"]) == expected
        assert {line["sku"] for line in order["line_items"]} <= skus
        assert order["id"] == ORDER_ID_BASE + j and order["order_number"] == 1001 + j


def test_a_shop_of_100k_orders_is_cheap_to_make():
    started = time.perf_counter()
    shop = ShopData(seed=1, orders=100_000, products=200)
    page = [shop.order(j) for j in range(99_750, 100_000)]
    assert time.perf_counter() - started < 2.0
    assert page[-1]["id"] == ORDER_ID_BASE + 99_999


def test_inventory_levels_are_addressed_by_one_flat_index():
    shop = ShopData(seed=2, orders=0, products=25, locations=3)
    seen = set()
    for flat in range(shop.level_count):
        i, k, n = shop.level_at(flat)
        assert shop.level_flat(i, k, n) == flat
        level = shop.inventory_level(flat)
        seen.add((level["inventory_item_id"], level["location_id"]))
    assert len(seen) == shop.level_count == sum(shop.variant_count(i) for i in range(25)) * 3


def test_recent_orders_are_the_same_shop_moved_to_the_weeks_before_this_one():
    from datetime import UTC, datetime, timedelta

    from sandbox.data import recent_orders_until

    wednesday = datetime(2026, 12, 9, 15, 30, tzinfo=UTC).timestamp()
    until = recent_orders_until(wednesday)
    assert until == recent_orders_until(datetime(2026, 12, 13, 23, 59, tzinfo=UTC).timestamp())  # all week
    assert until < recent_orders_until(datetime(2026, 12, 14, 0, 1, tzinfo=UTC).timestamp())  # next Monday
    old, recent = ShopData(seed=3, orders=1000, products=10), ShopData(seed=3, orders=1000, products=10,
                                                                      orders_until=until)
    created = [datetime.fromisoformat(recent.order(j)["created_at"]) for j in range(1000)]
    updated = [datetime.fromisoformat(recent.order(j)["updated_at"]) for j in range(1000)]
    monday = datetime(2026, 12, 7, tzinfo=UTC)
    assert max(updated) <= monday and min(created) >= monday - timedelta(days=30)
    assert datetime.fromisoformat(old.order(0)["created_at"]) < datetime(2023, 1, 2, tzinfo=UTC)  # as tests expect

    def same(order):  # the shop apart from its dates
        return (order["id"], order["total_price"], order["financial_status"], order["fulfillment_status"],
                [(line["sku"], line["quantity"]) for line in order["line_items"]])

    assert [same(old.order(j)) for j in range(50)] == [same(recent.order(j)) for j in range(50)]
