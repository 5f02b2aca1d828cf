"""HTTP calls to the sandbox shop: it speaks Shopify's REST Admin API, so this is Shopify's client.

The paths, the GraphQL calls and the Link header live in connectors/shopify/
(client.py, graphql.py); the simulator speaks one Admin API version,
DEFAULT_API_VERSION (sandbox/data.py's API_VERSION is the same string). The one difference: the simulator runs with tiny
buckets on purpose (to provoke 429s), so the client does not pace itself on the
call-limit header here; the HTTP client still honours every 429's Retry-After.
"""

from connectors.shopify.client import (
    AUTHORIZE_PATH,
    DEFAULT_API_VERSION,
    PAGE_LIMIT,
    TOKEN_PATH,
    ShopifyClient,
    next_page_info,
)

__all__ = ["AUTHORIZE_PATH", "DEFAULT_API_VERSION", "PAGE_LIMIT", "TOKEN_PATH", "SandboxClient", "next_page_info"]


class SandboxClient(ShopifyClient):
    """ShopifyClient without call-limit pacing (`leak_per_second=None`)."""
