"""The Shopify Admin API version: one setting, and a version Shopify still supports on the pinned date.

Shopify releases a stable version each quarter (YYYY-01, -04, -07, -10, on the 1st) and supports
each for at least 12 months (shopify.dev/docs/api/usage/versioning). PINNED_DATE is a constant,
not today's clock, so the suite is reproducible; when the project moves its pinned date forward
past the default version's window, this test fails and the default must move with it.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import responses

from config.errors import ValidationError
from connectors import registry
from connectors.shopify.client import DEFAULT_API_VERSION
from connectors.shopify.connector import ShopifyConnector
from sandbox.data import API_VERSION as SIMULATOR_VERSION
from tests.connectors import shopify_support

integration = shopify_support.integration

PINNED_DATE = date(2026, 12, 5)
SUPPORT_MONTHS = 12
ROOT = Path(__file__).resolve().parents[2]
VERSION_LITERAL = re.compile(r"[\"'/]20\d\d-(?:01|04|07|10)[\"'/]")  # a version in a string or a path


def released(version: str) -> date:
    year, month = (int(part) for part in version.split("-"))
    return date(year, month, 1)


def supported_until(version: str) -> date:
    start = released(version)
    months = start.month - 1 + SUPPORT_MONTHS
    return date(start.year + months // 12, months % 12 + 1, 1)


def test_the_default_version_is_inside_shopifys_support_window_on_the_pinned_date():
    assert released(DEFAULT_API_VERSION) <= PINNED_DATE, "a release candidate is not a stable version yet"
    assert PINNED_DATE < supported_until(DEFAULT_API_VERSION), (
        f"Shopify stopped supporting {DEFAULT_API_VERSION} on {supported_until(DEFAULT_API_VERSION)}")


@pytest.mark.parametrize(("version", "supported"), [("2024-01", False), ("2025-10", False), ("2026-01", True),
                                                    ("2026-10", True), ("2027-01", False)])
def test_the_window_rule(version, supported):
    """The rule the test above applies: 2024-01 (the old pin) ended 2025-01-01; 2027-01 is not released yet."""
    assert (released(version) <= PINNED_DATE < supported_until(version)) is supported


def test_the_version_is_written_in_one_place():
    """No other module of the connector (or the sandbox connector) has a version in a string or path (prose may
    name one); the simulator speaks the same one."""
    places = [path.relative_to(ROOT).as_posix() for folder in ("connectors/shopify", "connectors/sandbox")
              for path in sorted((ROOT / folder).glob("*.py")) if VERSION_LITERAL.search(path.read_text())]
    assert places == ["connectors/shopify/client.py"]
    assert SIMULATOR_VERSION == DEFAULT_API_VERSION
    assert ShopifyConnector.provider_settings["API_VERSION"] == DEFAULT_API_VERSION


@responses.activate
def test_every_call_uses_the_setting(integration, settings):
    settings.PROVIDER_SETTINGS = {"shopify": {"API_VERSION": "2026-07"}}
    responses.add("GET", f"https://{shopify_support.SHOP}/admin/api/2026-07/shop.json", json={"shop": {"name": "A"}})
    responses.add("POST", f"https://{shopify_support.SHOP}/admin/api/2026-07/graphql.json",
                  json={"data": {"products": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}})
    connector = registry.connector_for(integration)
    assert connector.account_display_name() == "A"
    integration.config = {**integration.config, "bulk_import": False}
    assert next(connector.iter_products()).items == []


def test_a_malformed_version_setting_is_refused_with_its_variable(integration, settings):
    settings.PROVIDER_SETTINGS = {"shopify": {"API_VERSION": "2026-05"}}
    with pytest.raises(ValidationError, match="SHOPIFY_API_VERSION"):
        registry.connector_for(integration).client  # noqa: B018 (building the client reads the setting)
