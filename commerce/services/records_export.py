"""The ERP's records of one organization as CSV files: what a backup writes (syncjobs/backups.py).

Four files, each a header row then one row per record, ordered by id, UTF-8, comma-separated, times in ISO 8601
UTC, amounts as exact decimals: `orders.csv`, `order_lines.csv` (the orders' lines, by order id),
`products.csv` and `stock.csv` (one row per product and ERP stock location). The files are opened in
spreadsheets (a Drive folder opens them in Sheets), so they are written by config/spreadsheet.py: text that a
spreadsheet would run as a formula (a customer name typed as `=HYPERLINK(…)`) gets a leading `'`; amounts stay
numbers.

Read with `.iterator()` so a large organization streams its rows; the files themselves are built in memory.
"""

from __future__ import annotations

from config.spreadsheet import csv_bytes

from ..models import Order, OrderLine, Product, StockLevel

ORDER_COLUMNS = ("id", "channel", "external_id", "external_number", "status", "currency", "subtotal",
                 "total_discounts", "total_tax", "total_shipping", "total", "customer_name", "customer_email",
                 "placed_at", "cancelled_at", "fulfilled_at", "updated_at")
LINE_COLUMNS = ("order_id", "id", "sku", "title", "quantity", "unit_price", "total", "fulfilled_quantity")
PRODUCT_COLUMNS = ("id", "sku", "name", "status", "price", "currency", "barcode", "updated_at")
STOCK_COLUMNS = ("sku", "location", "on_hand", "reserved", "low_stock_threshold", "updated_at")


def records_export_csv(*, organization_id: int) -> dict[str, bytes]:
    """{"orders.csv": bytes, "order_lines.csv": …, "products.csv": …, "stock.csv": …} of one organization."""
    orders = (Order.objects.filter(organization_id=organization_id).order_by("pk")
              .values_list("pk", "integration__code", *ORDER_COLUMNS[2:]))
    lines = (OrderLine.objects.filter(order__organization_id=organization_id).order_by("order_id", "pk")
             .values_list(*LINE_COLUMNS))
    products = Product.objects.filter(organization_id=organization_id).order_by("pk").values_list(*PRODUCT_COLUMNS)
    stock = (StockLevel.objects.filter(organization_id=organization_id).order_by("product__sku", "location")
             .values_list("product__sku", *STOCK_COLUMNS[1:]))
    return {
        "orders.csv": csv_bytes(ORDER_COLUMNS, orders.iterator()),
        "order_lines.csv": csv_bytes(LINE_COLUMNS, lines.iterator()),
        "products.csv": csv_bytes(PRODUCT_COLUMNS, products.iterator()),
        "stock.csv": csv_bytes(STOCK_COLUMNS, stock.iterator()),
    }
