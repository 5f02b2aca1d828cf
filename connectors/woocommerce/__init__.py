"""WooCommerce (REST API v3): consumer key/secret over HTTPS, page-numbered pulls, HMAC-signed webhooks."""
