"""HTTP calls to the sandbox shop: it speaks Shopify's REST Admin API, so this is Shopify's client.

The paths, the pinned API version and the Link header live in
connectors/shopify/client.py. The one difference: the simulator runs with tiny
buckets on purpose (to provoke 429s), so the client does not pace itself on the
call-limit header here; the HTTP client still honours every 429's Retry-After.
"""

from connectors.shopify.client import (
    API_ROOT,
    API_VERSION,
    AUTHORIZE_PATH,
    PAGE_LIMIT,
    TOKEN_PATH,
    ShopifyClient,
    next_page_info,
)

__all__ = ["API_ROOT", "API_VERSION", "AUTHORIZE_PATH", "PAGE_LIMIT", "TOKEN_PATH", "SandboxClient", "next_page_info"]


class SandboxClient(ShopifyClient):
    """ShopifyClient without call-limit pacing (`leak_per_second=None`)."""
