"""connectors/shopify/auth.py: Shopify's callback HMAC and shop-domain rules."""

from __future__ import annotations

import time

import pytest

from config.errors import OAuthFailed, ValidationError
from connectors.shopify.auth import callback_hmac, normalized_shop, valid_shop_domain, verify_callback
from sandbox.auth import install_hmac

SECRET = "hush-secret-0000"


@pytest.mark.parametrize("params", [
    {"code": "abc", "shop": "a.myshopify.com", "state": "s", "timestamp": "1700000000", "host": "aG9zdA"},
    {"weird&key=": "va%lu&e=", "shop": "a.myshopify.com", "timestamp": "1"},  # the escaping rules
])
def test_the_hmac_matches_what_the_sandbox_signs(params):
    assert callback_hmac(params, SECRET) == install_hmac(params, SECRET)
    assert callback_hmac({**params, "hmac": "x", "signature": "y"}, SECRET) == callback_hmac(params, SECRET)


def test_verify_accepts_a_fresh_signed_query_and_refuses_tampering():
    query = {"code": "abc", "shop": "a.myshopify.com", "state": "s", "timestamp": str(int(time.time()))}
    query["hmac"] = callback_hmac(query, SECRET)
    verify_callback(query, SECRET)
    verify_callback({**query, "hmac": query["hmac"].upper()}, SECRET)
    for bad in ({**query, "code": "other"}, {**query, "hmac": ""}, {k: v for k, v in query.items() if k != "hmac"}):
        with pytest.raises(OAuthFailed):
            verify_callback(bad, SECRET)
    with pytest.raises(OAuthFailed):
        verify_callback(query, "another-secret")
    with pytest.raises(OAuthFailed):
        verify_callback(query, "")


@pytest.mark.parametrize("age, ok", [(60, True), (23 * 3600, True), (25 * 3600, False), (-3600, False)])
def test_verify_refuses_old_or_future_timestamps(age, ok):
    query = {"code": "abc", "timestamp": str(int(time.time()) - age)}
    query["hmac"] = callback_hmac(query, SECRET)
    if ok:
        verify_callback(query, SECRET)
    else:
        with pytest.raises(OAuthFailed):
            verify_callback(query, SECRET)


@pytest.mark.parametrize("shop, ok", [
    ("my-store.myshopify.com", True),
    ("store1.myshopify.com", True),
    ("-store.myshopify.com", False),
    ("my_store.myshopify.com", False),
    ("store.myshopify.com.evil.net", False),
    ("evil.net/store.myshopify.com", False),
    ("user@store.myshopify.com", False),
    ("store.myshopify.com:443", False),
    ("https://store.myshopify.com", False),
    ("store.example.com", False),
    ("", False),
])
def test_shop_domains(shop, ok):
    assert valid_shop_domain(shop) is ok


def test_a_shop_is_normalized_before_the_check():
    assert normalized_shop("  My-Store.MyShopify.com ") == "my-store.myshopify.com"
    with pytest.raises(ValidationError) as caught:
        normalized_shop("my-store.example.com")
    assert "shop" in caught.value.details
