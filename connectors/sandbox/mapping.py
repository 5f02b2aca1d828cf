"""The sandbox shop speaks Shopify's REST Admin API, so its records map exactly as Shopify's do.

One mapping for both (connectors/shopify/mapping.py): a fix to how a Shopify
order is read then holds for the simulator the demo and the end-to-end tests run
against, and the simulator keeps testing the real mapping.
"""

from connectors.shopify.mapping import (
    ORDER_STATUSES,
    RAW_STATUSES,
    MappingError,
    normalize_address,
    normalize_inventory_level,
    normalize_line,
    normalize_order,
    normalize_product,
    order_status,
)

__all__ = [
    "ORDER_STATUSES", "RAW_STATUSES", "MappingError", "normalize_address", "normalize_inventory_level",
    "normalize_line", "normalize_order", "normalize_product", "order_status",
]
