"""The fixtures every connector test may use (support.py): no sleeping between retries, public made-up hosts."""

from tests.connectors.support import public_dns, sleeps  # noqa: F401 - fixtures for every module below
