"""eBay (Sell Fulfillment + Sell Inventory): OAuth user tokens, offset pages, ECDSA-signed notifications."""
