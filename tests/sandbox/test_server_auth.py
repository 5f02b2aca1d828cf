"""The sandbox's OAuth server, token expiry and leaky-bucket rate limit (over real HTTP)."""

import http.client
import time
from urllib.parse import parse_qs, urlsplit

import requests

from sandbox.auth import INVALID_TOKEN, install_hmac
from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
from tests.sandbox.conftest import ShopClient

CLIENT = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}


def authorize(sandbox, **extra):
    params = {"client_id": DEFAULT_CLIENT_ID, "redirect_uri": "http://127.0.0.1:9/cb", "state": "s-123",
              "scope": "read_orders", **extra}
    response = requests.get(sandbox.url + "/admin/oauth/authorize", params=params, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = response.headers["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token(sandbox, **form):
    return requests.post(sandbox.url + "/admin/oauth/access_token", json=form, timeout=5)


def test_authorize_redirects_with_code_state_and_a_valid_install_hmac(sandbox):
    location, query = authorize(sandbox)
    assert location.startswith("http://127.0.0.1:9/cb?")
    assert query["state"] == "s-123" and query["shop"] == "sandbox-7.myshopify.com" and query["code"]
    assert query["hmac"] == install_hmac(query, DEFAULT_CLIENT_SECRET)


def test_authorize_refuses_an_unknown_client(sandbox):
    response = requests.get(sandbox.url + "/admin/oauth/authorize", timeout=5, allow_redirects=False,
                            params={"client_id": "nope", "redirect_uri": "http://127.0.0.1:9/cb"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


def test_code_exchange_gives_expiring_tokens_and_the_code_is_single_use(sandbox):
    _, query = authorize(sandbox)
    response = token(sandbox, **CLIENT, code=query["code"])
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"access_token", "refresh_token", "expires_in", "scope"}
    assert body["expires_in"] == 3600 and body["scope"] == "read_orders"
    assert ShopClient(sandbox, body["access_token"]).get("shop.json").status_code == 200
    assert token(sandbox, **CLIENT, code=query["code"]).json()["error"] == "invalid_grant"


def test_the_token_endpoint_takes_form_bodies_too(sandbox):
    _, query = authorize(sandbox)
    response = requests.post(sandbox.url + "/admin/oauth/access_token", data={**CLIENT, "code": query["code"]},
                             timeout=5)
    assert response.status_code == 200 and response.json()["access_token"].startswith("shpat_")


def test_a_wrong_client_secret_is_refused(sandbox):
    _, query = authorize(sandbox)
    response = token(sandbox, client_id=DEFAULT_CLIENT_ID, client_secret="wrong", code=query["code"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


def test_refresh_rotates_the_refresh_token(sandbox):
    first = sandbox.issue_tokens()
    second = token(sandbox, **CLIENT, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    reused = token(sandbox, **CLIENT, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    third = token(sandbox, **CLIENT, grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert third.status_code == 200
    stats = sandbox.stats()
    assert stats["refresh_grants"] == 2 and stats["refresh_failures"] == 1 and stats["token_requests"] == 3


def test_missing_unknown_and_expired_tokens_get_401(sandbox, shop):
    for bad in (None, "shpat_unknown"):
        response = ShopClient(sandbox, bad).get("orders.json")
        assert response.status_code == 401 and response.json() == {"errors": INVALID_TOKEN}
    assert shop.get("orders.json").status_code == 200
    assert sandbox.expire_tokens() >= 1
    assert shop.get("orders.json").status_code == 401
    assert sandbox.stats()["unauthorized"] == 3


def test_access_tokens_expire_after_their_ttl():
    with SandboxServer(port=0, orders=5, products=2, token_ttl=60) as sandbox:
        shop = ShopClient(sandbox, sandbox.issue_tokens()["access_token"])
        assert shop.get("shop.json").status_code == 200
        sandbox.oauth.clock = lambda: time.time() + 61
        assert shop.get("shop.json").status_code == 401


def test_ttl_zero_gives_non_expiring_tokens_without_refresh_token():
    with SandboxServer(port=0, orders=5, products=2, token_ttl=0) as sandbox:
        assert set(sandbox.issue_tokens()) == {"access_token", "scope"}


class StoppedClock:
    """The leaky bucket's clock, moved only by the test: on a loaded machine real time leaks the bucket between
    calls, and a burst that should be throttled is not."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_too_fast_gets_429_with_retry_after_and_the_call_limit_header():
    with SandboxServer(port=0, orders=5, products=2, rate_limit=4, leak_rate=5) as sandbox:
        sandbox.bucket.clock = clock = StoppedClock()
        shop = ShopClient(sandbox, sandbox.issue_tokens()["access_token"])
        answers = [shop.get("shop.json") for _ in range(6)]
        assert [r.status_code for r in answers] == [200] * 4 + [429] * 2
        assert answers[0].headers["X-Shopify-Shop-Api-Call-Limit"] == "1/4"
        throttled = answers[4]
        assert throttled.json()["errors"].startswith("Exceeded 5 calls per second for api client.")
        assert throttled.headers["X-Shopify-Shop-Api-Call-Limit"] == "4/4"
        wait = float(throttled.headers["Retry-After"])
        assert wait == 0.2  # one call's worth of leak at 5 a second
        clock.now += wait
        assert shop.get("shop.json").status_code == 200
        assert sandbox.stats()["throttled"] == 2


def test_the_bucket_is_per_app_so_a_refresh_does_not_empty_it():
    with SandboxServer(port=0, orders=5, products=2, rate_limit=2, leak_rate=0.5) as sandbox:
        sandbox.bucket.clock = StoppedClock()
        tokens = sandbox.issue_tokens()
        shop = ShopClient(sandbox, tokens["access_token"])
        assert [shop.get("shop.json").status_code for _ in range(3)] == [200, 200, 429]
        fresh = ShopClient(sandbox, sandbox.issue_tokens()["access_token"])
        assert fresh.get("shop.json").status_code == 429


def test_stop_closes_the_port_and_idle_keep_alive_connections():
    sandbox = SandboxServer(port=0, orders=5, products=2).start()
    token = sandbox.issue_tokens()["access_token"]
    idle = http.client.HTTPConnection("127.0.0.1", int(sandbox.url.rsplit(":", 1)[1]), timeout=30)
    idle.request("GET", "/admin/api/2026-10/shop.json", headers={"X-Shopify-Access-Token": token})
    answer = idle.getresponse()
    assert answer.status == 200 and not answer.will_close  # a keep-alive connection, now idle
    answer.read()
    sandbox.stop()
    # The server hung up on it (the 30 s is a bound on a broken stop(), never waited by a working one).
    assert idle.sock.recv(1) == b""
    idle.close()
    try:
        requests.get(sandbox.url + "/", timeout=1)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("the sandbox still answers after stop()")


def test_a_seeded_refresh_token_connects_once(sandbox):
    sandbox.oauth.seed_refresh_token("demo-refresh-token")
    first = token(sandbox, **CLIENT, grant_type="refresh_token", refresh_token="demo-refresh-token")
    assert first.status_code == 200
    assert ShopClient(sandbox, first.json()["access_token"]).get("shop.json").status_code == 200
    again = token(sandbox, **CLIENT, grant_type="refresh_token", refresh_token="demo-refresh-token")
    assert again.json()["error"] == "invalid_grant"


def test_tokens_survive_a_restart_with_a_token_file(tmp_path):
    kept = tmp_path / "sandbox-tokens.json"
    with SandboxServer(port=0, orders=5, products=2, token_file=kept) as sandbox:
        first = requests.post(sandbox.url + "/_sandbox/tokens", json={}, timeout=5).json()  # as the README says
        used = sandbox.issue_tokens()
        token(sandbox, **CLIENT, grant_type="refresh_token", refresh_token=used["refresh_token"])
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    with SandboxServer(port=0, orders=5, products=2, token_file=kept) as restarted:
        assert ShopClient(restarted, first["access_token"]).get("shop.json").status_code == 200
        renewed = token(restarted, **CLIENT, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert renewed.status_code == 200
        reused = token(restarted, **CLIENT, grant_type="refresh_token", refresh_token=used["refresh_token"])
        assert reused.status_code == 400  # a refresh token used before the restart stays used


def test_without_a_token_file_a_restart_forgets_the_tokens():
    with SandboxServer(port=0, orders=5, products=2) as sandbox:
        issued = sandbox.issue_tokens()
    with SandboxServer(port=0, orders=5, products=2) as restarted:
        assert ShopClient(restarted, issued["access_token"]).get("shop.json").status_code == 401
