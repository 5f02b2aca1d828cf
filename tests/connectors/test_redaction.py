"""No secret reaches an IntegrationLog row or an error message, whatever kind it is and wherever it hides."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import responses
from django.utils import timezone

from connectors import http
from connectors.errors import ProviderError
from connectors.redaction import HEADER_MEMO_SIZE, REDACTED, Redactor, is_secret_name, truncated
from integrations.models import IntegrationLog
from tests.connectors.http_fakes import BASE, FakeKeyShopConnector, FakeShopConnector, fake_public_dns, registered
from tests.factories import IntegrationFactory

SECRETS = {
    "api_key": "apikey-Q7w8E9r0-distinct",
    "api_secret": "apisecret-T1y2U3i4-distinct",
    "webhook_secret": "whsec-O5p6A7s8-distinct",
    "access_token": "access-D9f0G1h2-distinct",
    "refresh_token": "refresh-J3k4L5z6-distinct",
    "credentials": {"password": "credpass-X7c8V9b0-distinct", "nested": {"private": "credpriv-N1m2Q3w4-distinct"}},
}
# Secrets the integration does not hold, caught by their names only.
BY_NAME = {
    "query_signature": "qsig-E5r6T7y8-distinct",
    "oauth_code": "oauthcode-U9i0O1p2-distinct",
    "cookie": "cookie-A3s4D5f6-distinct",
    "hub_signature": "hubsig-G7h8J9k0-distinct",
    "body_password": "bodypass-L1z2X3c4-distinct",
    "form_secret": "formsecret-V5b6N7m8-distinct",
    "new_access": "newaccess-Q9w0E1r2-distinct",
    "new_refresh": "newrefresh-T3y4U5i6-distinct",
    "set_cookie": "setcookie-O7p8A9s0-distinct",
}


def _all_secret_strings() -> list[str]:
    values = [v for k, v in SECRETS.items() if k != "credentials"]
    values += ["credpass-X7c8V9b0-distinct", "credpriv-N1m2Q3w4-distinct", *BY_NAME.values()]
    return values


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)


@pytest.fixture
def integration(db, monkeypatch):
    fake_public_dns(monkeypatch)
    with registered(FakeShopConnector, FakeKeyShopConnector):
        yield IntegrationFactory(provider="fake-shop", expires_at=timezone.now() + timedelta(seconds=5), **SECRETS)


@responses.activate
def test_no_secret_of_any_kind_reaches_a_log_row_or_an_error(integration, settings):
    settings.INTEGRATION_LOG_BODY_LIMIT = 100_000
    api_secret, webhook_secret = SECRETS["api_secret"], SECRETS["webhook_secret"]
    # 1. the refresh: refresh token and client secret in the form, new tokens in the answer
    responses.post(
        f"{BASE}/oauth/token",
        json={"access_token": BY_NAME["new_access"], "refresh_token": BY_NAME["new_refresh"], "expires_in": 3600},
        headers={"Set-Cookie": f"sid={BY_NAME['set_cookie']}; HttpOnly"},
    )
    # 2. a call with secrets in query, headers, path and body; the provider echoes some back
    responses.post(
        f"{BASE}/bot{BY_NAME['new_access']}/messages",
        json={
            "echo": f"you sent {api_secret} and {BY_NAME['new_access']}",
            "Client_Secret": api_secret,
            "data": {"credentials": {"Password": SECRETS["credentials"]["password"]}},
        },
        headers={"X-Shopify-Access-Token": SECRETS["api_key"]},
    )
    # 3. an error whose body quotes the webhook secret
    responses.get(f"{BASE}/admin/hooks.json", status=400, body=f"bad signature, expected {webhook_secret}")
    responses.post(f"{BASE}/admin/products.json", status=201, json={"id": 1})
    # 4. an API-key provider: the key rides in a provider header
    responses.get(f"{BASE}/admin/shop.json", status=500, json={"errors": f"key {SECRETS['api_key']} broken"})

    client = FakeShopConnector(integration).http
    client.post(
        f"/bot{BY_NAME['new_access']}/messages",
        action="send_message",
        params={"signature": BY_NAME["query_signature"], "code": BY_NAME["oauth_code"], "page": "2"},
        headers={"Cookie": f"session={BY_NAME['cookie']}", "X-Hub-Signature-256": BY_NAME["hub_signature"]},
        json={
            "user": {"Password": BY_NAME["body_password"], "name": "Ann"},
            "note": f"literal {SECRETS['refresh_token']} and {SECRETS['credentials']['nested']['private']}",
            "items": [{"api_key": SECRETS["api_key"]}],
        },
    )
    client.post("/admin/products.json", action="form_post", data={"client_secret": BY_NAME["form_secret"], "t": "T"})
    errors = []
    with pytest.raises(ProviderError) as first:
        client.get(
            "/admin/hooks.json", action="list_hooks", params={"access_token": integration.access_token, "sig": "x1"}
        )
    errors.append(first.value)
    key_client = FakeKeyShopConnector(integration).http
    with pytest.raises(ProviderError) as second:
        key_client.get("/admin/shop.json", action="get_shop", params={"api_key": SECRETS["api_key"]})
    errors.append(second.value)

    rows = list(IntegrationLog.objects.values())
    assert len(rows) >= 4
    dumped = str(rows)
    for secret in _all_secret_strings():
        assert secret not in dumped, secret
        for error in errors:
            assert secret not in f"{error} {error.message} {error.details}", secret
    assert REDACTED in dumped
    # Redacted, not dropped: what helps debugging is still there.
    assert "page=2" in dumped and "Ann" in dumped and "bad signature" in dumped


def test_secret_names_are_matched_case_insensitively_in_any_spelling():
    for name in ("Authorization", "access_token", "ACCESS-TOKEN", "apiKey", "X-Api-Key", "client_secret",
                 "Password", "signature", "sig", "refreshToken", "private_key", "key"):  # fmt: skip
        assert is_secret_name(name), name
    for name in ("token_type", "expires_in", "page_info", "name", "nextPageToken", "sku"):
        assert not is_secret_name(name), name
    assert is_secret_name("code") and not is_secret_name("code", request=False)


def test_headers_are_redacted_by_name_and_value():
    redactor = Redactor(["s3cr3t-value"])
    headers = redactor.headers(
        {
            "Authorization": "Bearer abc",
            "X-Shopify-Access-Token": "shpat_1",
            "X-Shopify-Hmac-Sha256": "h",
            "Cookie": "a=b",
            "X-Api-Key": "k",
            "Content-Type": "application/json",
            "X-Note": "has s3cr3t-value inside",
        }
    )
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Note"] == f"has {REDACTED} inside"
    assert all(headers[h] == REDACTED for h in ("Authorization", "X-Shopify-Access-Token", "X-Shopify-Hmac-Sha256",
                                                "Cookie", "X-Api-Key"))  # fmt: skip


def test_urls_lose_secret_params_credentials_and_known_values_in_encoded_forms():
    redactor = Redactor(["p@ss word/1"])
    url = redactor.url("https://u:pw@h.example/v1/p%40ss%20word%2F1/x?Access_Token=t&limit=5&note=p%40ss+word%2F1")
    assert "pw" not in url and "p%40ss" not in url and "Access_Token=%5BREDACTED%5D" not in url
    assert "Access_Token=[REDACTED]" in url and "limit=5" in url and url.startswith("https://[REDACTED]@h.example")


def test_free_text_loses_pairs_bearer_tokens_and_known_values():
    redactor = Redactor(["known-secret-1"])
    text = redactor.text('{"password": "hunter22", "ok": 1} token=abc&x=1 Bearer eyJ0eXAi.1 said known-secret-1')
    assert "hunter22" not in text and "abc" not in text and "eyJ0eXAi" not in text and "known-secret-1" not in text
    assert '"ok": 1' in text and "x=1" in text
    assert redactor.text("refresh token revoked") == "refresh token revoked"


def test_nested_json_and_form_pairs_are_redacted_at_any_depth():
    redactor = Redactor()
    data = redactor.data({"a": [{"b": {"Client-Secret": "x", "keep": "y"}}], "auth": {"any": "z"}})
    assert data == {"a": [{"b": {"Client-Secret": REDACTED, "keep": "y"}}], "auth": REDACTED}
    assert redactor.data([("refresh_token", "r"), ("grant_type", "refresh_token")]) == [
        ["refresh_token", REDACTED],
        ["grant_type", "refresh_token"],
    ]


def test_short_values_are_not_searched_for_and_truncation_marks_what_it_cut():
    assert Redactor(["abc"]).text("abcabc") == "abcabc"
    assert truncated("x" * 10, 20) == "x" * 10
    assert truncated({"k": "x" * 50}, 20) == {"truncated": True, "size": 59, "head": '{"k": "xxxxxxxxxxxxx'}


def test_a_large_body_is_pruned_before_redaction_and_keeps_no_secret():
    from connectors.redaction import Redactor, pruned, truncated

    secret = "sk_live_SECRETVALUE_1234567890"
    body = {"access_token": secret, "orders": [{"id": i, "note": f"token {secret}"} for i in range(20_000)]}
    head, cut = pruned(body, 2 * 4096)
    assert cut
    assert len(head["orders"]) < 200  # a head, not the whole page
    record = truncated(Redactor([secret]).data(head, request=False), 4096, size=999_999)
    assert record["truncated"] is True and record["size"] == 999_999
    assert len(record["head"]) == 4096
    assert secret not in str(record)


def test_pruned_keeps_a_small_body_whole():
    from connectors.redaction import pruned

    body = {"a": [1, 2, {"b": "c"}], "d": "e"}
    assert pruned(body, 4096) == (body, False)


def test_customer_personal_data_is_kept_out_of_the_logged_body():
    from connectors.redaction import PERSONAL, Redactor

    order = {
        "id": 5000000001, "order_number": 1001, "total_price": "12.50", "email": "ana.pop@example.ro",
        "customer": {"id": 7, "email": "ana.pop@example.ro", "first_name": "Ana", "last_name": "Pop"},
        "shipping_address": {"address1": "Strada Lunga 5", "city": "Cluj", "zip": "400001", "phone": "+40711"},
        "line_items": [{"sku": "TSHIRT-M", "quantity": 2, "title": "T-shirt"}],
        "note": "call ana.pop@example.ro before delivery",
    }
    logged = Redactor([]).data({"orders": [order]}, request=False)
    text = str(logged)
    for personal in ("ana.pop@example.ro", "Ana", "Pop", "Strada Lunga", "400001", "+40711"):
        assert personal not in text
    first = logged["orders"][0]
    assert first["customer"] == PERSONAL and first["shipping_address"] == PERSONAL and first["email"] == PERSONAL
    # What an operator debugging a sync needs stays readable.
    assert first["order_number"] == 1001 and first["total_price"] == "12.50"
    assert first["line_items"] == [{"sku": "TSHIRT-M", "quantity": 2, "title": "T-shirt"}]


def test_header_values_seen_before_are_redacted_from_the_memo_and_the_memo_is_bounded():
    redactor = Redactor(["s3cr3t-value"])
    headers = {"User-Agent": "agent s3cr3t-value", "X-Webhook-Signature": "abc", "Host": "example.test"}
    first = redactor.headers(headers)
    assert first == {"User-Agent": f"agent {REDACTED}", "X-Webhook-Signature": REDACTED, "Host": "example.test"}
    with mock.patch.object(redactor, "text", side_effect=AssertionError("redacted again")):
        assert redactor.headers(headers) == first
    for number in range(HEADER_MEMO_SIZE + 50):
        assert redactor.headers({"Content-Length": str(number)}) == {"Content-Length": str(number)}
    assert len(redactor._header_memo) == HEADER_MEMO_SIZE
    assert redactor.headers({"X-Other": "s3cr3t-value"}) == {"X-Other": REDACTED}  # past the bound: still redacted
