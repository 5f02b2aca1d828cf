import pytest
import requests

from sandbox.server import SandboxServer


class ShopClient:
    """requests against a running sandbox, with its token; `get("orders.json", status="any")`."""

    def __init__(self, sandbox: SandboxServer, token: str | None):
        self.sandbox, self.token, self.session = sandbox, token, requests.Session()

    def api(self, path: str) -> str:
        return f"{self.sandbox.url}/admin/api/2026-10/{path}"

    def get(self, path: str, **params) -> requests.Response:
        url = path if path.startswith("http") else self.api(path)
        return self.session.get(url, params=params, headers={"X-Shopify-Access-Token": self.token or ""}, timeout=5)

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(self.api(path), json=body, headers={"X-Shopify-Access-Token": self.token or ""},
                                 timeout=5)


@pytest.fixture
def sandbox():
    with SandboxServer(port=0, seed=7, orders=700, products=40, rate_limit=1000, leak_rate=1000) as server:
        yield server


@pytest.fixture
def shop(sandbox):
    return ShopClient(sandbox, sandbox.issue_tokens()["access_token"])
