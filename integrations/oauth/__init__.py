"""OAuth 2.0 for integrations: connect (initiate + callback), refresh, disconnect; services in flow.py, refresh.py."""
