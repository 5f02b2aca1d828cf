"""The Amazon SP-API tests' shared pieces: recorded answers and the North America hosts they are replayed at."""

from __future__ import annotations

from tests.connectors.support import Recorded

BASE = "https://sellingpartnerapi-na.amazon.com"
ORDERS = f"{BASE}/orders/v0/orders"
FBA = f"{BASE}/fba/inventory/v1/summaries"
US = "ATVPDKIKX0DER"

fixture = Recorded("amazon_sp")
replay = fixture.replay
