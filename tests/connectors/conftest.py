"""The fixtures every connector test may use (support.py): no backoff sleeps, public made-up hosts, the connector."""

from tests.connectors.support import connector, public_dns, sleeps  # noqa: F401 - fixtures for every module below
