"""The sandbox's Admin API: pagination, filters, resources, fulfilments and stock (over real HTTP)."""

import re
from datetime import UTC, datetime

from sandbox.data import ORDER_ID_BASE, iso

LINK = re.compile(r'<([^>]+)>; rel="(next|previous)"')


def links(response):
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


def pull_all(shop, path, key, **params):
    pages, response = [], shop.get(path, **params)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json()[key])
        nxt = links(response).get("next")
        if not nxt:
            return pages
        response = shop.get(nxt)


def test_pagination_covers_every_order_exactly_once_in_id_order(shop):
    pages = pull_all(shop, "orders.json", "orders", status="any", limit=250)
    ids = [order["id"] for page in pages for order in page]
    assert [len(p) for p in pages] == [250, 250, 200]
    assert ids == list(range(ORDER_ID_BASE, ORDER_ID_BASE + 700))


def test_the_first_page_has_no_previous_link_and_the_last_no_next(shop):
    first = shop.get("orders.json", status="any", limit=300 // 2)
    assert set(links(first)) == {"next"}
    second = shop.get(links(first)["next"])
    assert set(links(second)) == {"next", "previous"}
    back = shop.get(links(second)["previous"])
    assert [o["id"] for o in back.json()["orders"]] == [o["id"] for o in first.json()["orders"]]
    last = shop.get("orders.json", status="any", limit=250, since_id=ORDER_ID_BASE + 600)
    assert "next" not in links(last) and len(last.json()["orders"]) == 99


def test_page_info_is_opaque_and_combines_only_with_limit_and_fields(shop):
    first = shop.get("orders.json", status="any", limit=5, fields="id,updated_at")
    assert set(first.json()["orders"][0]) == {"id", "updated_at"}
    page_info = re.search(r"page_info=([^&>]+)", links(first)["next"]).group(1)
    assert shop.get("orders.json", page_info=page_info, limit=5).status_code == 200
    mixed = shop.get("orders.json", page_info=page_info, status="any")
    assert mixed.status_code == 400 and "page_info" in mixed.json()["errors"]
    tampered = shop.get("orders.json", page_info=page_info[:-3] + "AAA")
    assert tampered.status_code == 400
    assert shop.get("products.json", page_info=page_info).status_code == 400  # another resource's cursor


def test_limit_is_at_most_250(shop):
    assert shop.get("orders.json", limit=251).status_code == 400
    assert len(shop.get("orders.json", status="any").json()["orders"]) == 50  # Shopify's default


def test_updated_at_min_keeps_the_orders_updated_since(sandbox, shop):
    cut = sorted(sandbox.data.order_updated_ts)[500]
    expected = {ORDER_ID_BASE + j for j, ts in enumerate(sandbox.data.order_updated_ts) if ts >= cut}
    pages = pull_all(shop, "orders.json", "orders", status="any", limit=250, updated_at_min=iso(cut))
    got = [o["id"] for page in pages for o in page]
    assert len(got) == len(set(got)) == len(expected) == 200
    assert set(got) == expected
    assert all(datetime.fromisoformat(o["updated_at"]).timestamp() >= cut for page in pages for o in page)
    utc = datetime.fromtimestamp(cut, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert shop.get("orders/count.json", status="any", updated_at_min=utc).json() == {"count": 200}


def test_status_defaults_to_open_like_shopify(sandbox, shop):
    open_count = shop.get("orders/count.json").json()["count"]
    counts = {s: shop.get("orders/count.json", status=s).json()["count"] for s in ("closed", "cancelled", "any")}
    assert 0 < open_count < 700
    assert open_count + counts["closed"] + counts["cancelled"] == counts["any"] == 700
    assert shop.get("orders/count.json", updated_at_min="yesterday").status_code == 400


def test_products_with_variants_and_skus(shop):
    pages = pull_all(shop, "products.json", "products", limit=15)
    products = [p for page in pages for p in page]
    assert len(products) == 40
    variant = products[0]["variants"][0]
    assert variant["sku"].startswith("SB7-") and variant["inventory_item_id"] and variant["price"]
    one = shop.get(f"products/{products[3]['id']}.json").json()["product"]
    assert one == products[3]


def test_shop_and_locations(shop):
    assert shop.get("shop.json").json()["shop"]["myshopify_domain"] == "sandbox-7.myshopify.com"
    assert len(shop.get("locations.json").json()["locations"]) == 2
    assert shop.get("nope.json").status_code == 404
    assert shop.get("orders/1.json").status_code == 404


def test_inventory_levels_page_and_set_changes_them(sandbox, shop):
    assert shop.get("inventory_levels.json").status_code == 422  # needs item or location ids
    location = shop.get("locations.json").json()["locations"][1]["id"]
    pages = pull_all(shop, "inventory_levels.json", "inventory_levels", location_ids=str(location), limit=20)
    levels = [lvl for page in pages for lvl in page]
    assert len(levels) == sandbox.data.level_count // 2 and {lvl["location_id"] for lvl in levels} == {location}
    item = levels[0]["inventory_item_id"]
    response = shop.post("inventory_levels/set.json", {"location_id": location, "inventory_item_id": item,
                                                       "available": 777})
    assert response.status_code == 200 and response.json()["inventory_level"]["available"] == 777
    again = shop.get("inventory_levels.json", inventory_item_ids=str(item), location_ids=str(location))
    assert again.json()["inventory_levels"][0]["available"] == 777
    assert shop.post("inventory_levels/set.json", {"location_id": location, "inventory_item_id": 1,
                                                   "available": 1}).status_code == 422


def test_fulfilling_an_order_through_its_fulfillment_order(sandbox, shop):
    j = next(j for j in range(700) if sandbox.state._order_status(j) == "open"
             and sandbox.data.order_kind(j) == ("paid", None, False))
    order_id = ORDER_ID_BASE + j
    fo = shop.get(f"orders/{order_id}/fulfillment_orders.json").json()["fulfillment_orders"][0]
    assert fo["status"] == "open"
    first = fo["line_items"][0]
    body = {"fulfillment": {"line_items_by_fulfillment_order": [{
        "fulfillment_order_id": fo["id"], "fulfillment_order_line_items": [{"id": first["id"], "quantity": 1}]}],
        "tracking_info": {"number": "1Z999", "company": "UPS"}, "notify_customer": False}}
    created = shop.post("fulfillments.json", body)
    assert created.status_code == 201, created.text
    assert created.json()["fulfillment"]["tracking_number"] == "1Z999"
    order = shop.get(f"orders/{order_id}.json").json()["order"]
    assert order["fulfillments"][-1]["tracking_number"] == "1Z999"
    assert order["line_items"][0]["fulfillable_quantity"] == first["fulfillable_quantity"] - 1
    everything = {"fulfillment": {"line_items_by_fulfillment_order": [{"fulfillment_order_id": fo["id"]}]}}
    assert shop.post("fulfillments.json", everything).status_code == 201
    order = shop.get(f"orders/{order_id}.json").json()["order"]
    assert order["fulfillment_status"] == "fulfilled"
    assert shop.post("fulfillments.json", everything).status_code == 422  # nothing left to fulfil


def test_touched_orders_move_past_updated_at_min(sandbox, shop):
    mark = iso(sandbox.data.max_generated_ts + 1)
    assert shop.get("orders/count.json", status="any", updated_at_min=mark).json()["count"] == 0
    touched = sandbox.touch_orders(5)
    got = shop.get("orders.json", status="any", updated_at_min=mark).json()["orders"]
    assert sorted(o["id"] for o in got) == sorted(set(touched))
    response = shop.session.post(sandbox.url + "/_sandbox/mutate", json={"orders": 2}, timeout=5)
    assert response.status_code == 200 and len(response.json()["touched"]) == 2


def test_pages_served_from_encoded_orders_say_what_the_orders_say_and_follow_their_changes(sandbox, shop):
    """Orders go out as bytes encoded once (state.order_json); a page must still equal the orders as rendered now,
    a changed order included, with the page's Link and call-limit headers."""
    sandbox.state.prerender_orders()
    first = shop.get("orders.json", status="any", limit=250)
    assert first.json()["orders"] == [sandbox.state.order(j) for j in range(250)]
    assert "next" in links(first) and first.headers["X-Shopify-Shop-Api-Call-Limit"]

    touched = {order_id - ORDER_ID_BASE for order_id in sandbox.touch_orders(3)}
    j = min(touched)
    order_id = ORDER_ID_BASE + j
    fo = shop.get(f"orders/{order_id}/fulfillment_orders.json").json()["fulfillment_orders"][0]
    if fo["status"] == "open":
        assert shop.post("fulfillments.json", {"fulfillment": {"line_items_by_fulfillment_order": [
            {"fulfillment_order_id": fo["id"]}]}}).status_code == 201
    again = shop.get("orders.json", status="any", limit=250).json()["orders"]
    assert again == [sandbox.state.order(j) for j in range(250)]
    changed = {o["id"] - ORDER_ID_BASE for o, before in zip(again, first.json()["orders"], strict=True) if o != before}
    assert changed and changed == {t for t in touched if t < 250}
    assert shop.get("orders.json", status="any", limit=5, fields="id,name").json()["orders"][0] == {
        "id": ORDER_ID_BASE, "name": "#1001"}
