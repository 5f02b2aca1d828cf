"""The only code that writes commerce records. Import from here: `from commerce.services import upsert_orders`."""

from .channel_stock import (
    channel_location_map,
    channel_locations_refresh,
    stock_mode_set,
    upsert_inventory_levels,
)
from .labels import label_store, labels_merge
from .lifecycle import order_tracking_record
from .orders import order_set_status, upsert_orders
from .payments import order_mark_paid, order_mark_refunded
from .products import upsert_products
from .refs import UpsertResult
from .returns import return_record, upsert_returns
from .stock import adjust_stock

__all__ = [
    "UpsertResult",
    "adjust_stock",
    "channel_location_map",
    "channel_locations_refresh",
    "label_store",
    "labels_merge",
    "order_mark_paid",
    "order_mark_refunded",
    "order_set_status",
    "order_tracking_record",
    "return_record",
    "stock_mode_set",
    "upsert_inventory_levels",
    "upsert_orders",
    "upsert_products",
    "upsert_returns",
]
