"""Incoming webhooks: verify, store durably, process exactly once (see services.py and processing.py)."""
