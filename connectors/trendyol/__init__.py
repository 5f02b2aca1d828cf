"""Trendyol (seller integration API): Basic auth, seller id in the path, packages merged into orders."""
