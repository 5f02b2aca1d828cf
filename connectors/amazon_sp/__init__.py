"""Amazon Selling Partner API connector (connector.py)."""
