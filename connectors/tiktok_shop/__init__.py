"""TikTok Shop (Open API 202309): signed calls, shop cipher, page tokens, HMAC-signed webhooks."""
