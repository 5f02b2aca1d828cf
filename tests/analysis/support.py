"""A hand-built data set: five campaigns, three products, stock at two locations and orders from real-looking
customers (whose names, emails, phones and addresses must never reach a model). AS_OF is the analysis day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ads.models import AdAccount, Campaign, CampaignMetricsDay
from commerce.models import Order, OrderLine, Product, StockLevel
from tests.factories import IntegrationFactory

AS_OF = date(2026, 12, 1)
PERSONAL = ("Ioana Popescu", "ioana.popescu@example.ro", "+40 722 123 456", "Strada Lalelelor 5", "Cluj-Napoca",
            "400123")


def _campaign(org, integration, account, name, budget, *, spend, value, days=30, status="active"):
    campaign = Campaign.objects.create(organization=org, integration=integration, ad_account=account,
                                       external_id=name.lower().replace(" ", "-"), name=name, status=status,
                                       daily_budget=Decimal(budget), currency="RON")
    for back in range(days):
        CampaignMetricsDay.objects.create(organization=org, campaign=campaign, date=AS_OF - timedelta(days=back),
                                          spend=Decimal(spend), conversions=Decimal("2"),
                                          conversion_value=Decimal(value), currency="RON")
    return campaign


def _order(org, shop, number, placed, lines):
    order = Order.objects.create(
        organization=org, integration=shop, external_id=f"o-{number}", currency="RON", status="paid",
        placed_at=placed, customer_name=PERSONAL[0], customer_email=PERSONAL[1],
        shipping_address={"name": PERSONAL[0], "phone": PERSONAL[2], "address1": PERSONAL[3], "city": PERSONAL[4],
                          "zip": PERSONAL[5], "country_code": "RO"},
        billing_address={"name": PERSONAL[0], "phone": PERSONAL[2], "address1": PERSONAL[3]})
    for index, (product, quantity, price) in enumerate(lines):
        OrderLine.objects.create(order=order, external_id=f"l-{number}-{index}", product=product, sku=product.sku,
                                 title=product.name, quantity=quantity, unit_price=Decimal(price),
                                 total=Decimal(price) * quantity)
    return order


@pytest.fixture
def dataset(org):
    ads = IntegrationFactory(organization=org, provider="meta_ads", type="advertising", code="ads-ro")
    shop = IntegrationFactory(organization=org, code="shop-ro")
    account = AdAccount.objects.create(organization=org, integration=ads, external_id="1001", name="Shop RO",
                                       currency="RON")
    campaigns = {
        "boots": _campaign(org, ads, account, "Winter boots", "50.00", spend="50", value="40"),  # ROAS 0.80
        "gloves": _campaign(org, ads, account, "Gloves", "20.00", spend="20", value="8"),  # ROAS 0.40
        "scarves": _campaign(org, ads, account, "Scarves", "10.00", spend="10", value="50"),  # ROAS 5.00
        "new": _campaign(org, ads, account, "New hats", "15.00", spend="15", value="1", days=3),
        "paused": _campaign(org, ads, account, "Old socks", "5.00", spend="5", value="1", status="paused"),
    }
    products = {
        "a": Product.objects.create(organization=org, sku="SKU-A", name="Boot", price=Decimal("100.00"),
                                    currency="RON"),
        "b": Product.objects.create(organization=org, sku="SKU-B", name="Glove", price=Decimal("50.00"),
                                    currency="RON"),
        "c": Product.objects.create(organization=org, sku="SKU-C", name="Scarf", price=Decimal("30.00"),
                                    currency="RON"),
    }
    StockLevel.objects.create(organization=org, product=products["a"], location="main", on_hand=40)
    StockLevel.objects.create(organization=org, product=products["c"], location="main", on_hand=10, reserved=2)
    StockLevel.objects.create(organization=org, product=products["c"], location="store", on_hand=6)
    placed = datetime(2026, 11, 20, 12, tzinfo=UTC)
    _order(org, shop, 1, placed, [(products["a"], 10, "120.00"), (products["b"], 4, "52.00")])
    for day in range(30):  # SKU-C: 2 a day for 30 days
        _order(org, shop, 100 + day, datetime.combine(AS_OF - timedelta(days=day), datetime.min.time(), tzinfo=UTC)
               + timedelta(hours=9), [(products["c"], 2, "30.00")])
    _order(org, shop, 999, datetime(2026, 10, 1, tzinfo=UTC), [(products["c"], 500, "30.00")])  # outside 30 days
    return {"campaigns": campaigns, "products": products, "ads": ads, "shop": shop}


API_KEY = "sk-ant-api03-Zq9vT3stK3yN0tReal-0001"
MESSAGES = "https://api.anthropic.com/v1/messages"
MODELS = "https://api.anthropic.com/v1/models"


@pytest.fixture
def ai_integration(org, public_dns, sleeps):
    from connectors.sessions import close_sessions

    integration = IntegrationFactory(organization=org, provider="anthropic", type="ai", code="claude",
                                     api_key=API_KEY, status="active")
    yield integration
    close_sessions()


def replay_message(name: str, ids: dict[str, int] | None = None):
    """Answer POST /v1/messages with a recorded answer, its placeholder target ids ("BOOTS") made the data set's."""
    import copy

    import responses

    from tests.connectors.support import fixture

    recorded = copy.deepcopy(fixture("anthropic", name))
    for block in (recorded["body"] or {}).get("content", []) if isinstance(recorded["body"], dict) else []:
        for item in block.get("input", {}).get("suggestions", []):
            item["target_id"] = (ids or {}).get(item["target_id"], item["target_id"])
    return responses.add("POST", MESSAGES, json=recorded["body"], status=recorded["status"],
                         headers=recorded.get("headers") or {})
