"""A provider for any OAuth 2.0 server (RFC 6749 authorization code, RFC 7636 PKCE), configured per integration."""
