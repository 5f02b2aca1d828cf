"""HTTP to the Graph API for Facebook Pages, and nothing else: versioned paths, page tokens, paging.

Every call goes through the connector's ProviderClient (connectors/http.py): retries, throttles as waits, the
call log with tokens redacted. A page's own calls (its posts, insights, publishing) present the *page* access
token in the Authorization header, which overrides the user token the client would send, and that token's
`appsecret_proof` (connectors/appsecret_proof.py), which overrides the user token's; the user token still
decides refreshes, so a page token refused together with the user's (code 190) ends in one refused refresh and
pending_auth.

Paging: `{"data": [...], "paging": {"cursors": {"after"}, "next"}}`; Meta sends `after` on the last page too,
so the end is the absence of `paging.next`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.errors import ProviderError
from connectors.meta_graph import is_permission_code

if TYPE_CHECKING:
    from .connector import FacebookConnector

PAGE_LIMIT = 25
GRANTS = "pages_show_list, pages_manage_posts, pages_read_engagement and read_insights"


class PagesClient:
    def __init__(self, connector: FacebookConnector, version: str):
        self.connector = connector
        self.version = version

    def path(self, node: str) -> str:
        return f"/{self.version}/{node.lstrip('/')}"

    def call(self, method: str, node: str, *, action: str, token: str = "", params: dict[str, Any] | None = None,
             data: dict[str, Any] | None = None) -> Any:
        """One call; `token` is a page's access token (empty: the user's). A refused permission (code 10,
        200–299) becomes a permanent ProviderError that says which grants the connect needs."""
        headers = {"Authorization": f"Bearer {token}"} if token else None
        if token:  # the page token's own proof, which wins over the user token's the client would add
            params = {**(params or {}), **self.connector.appsecret_proof(token)}
        self.connector.last_graph_code = None
        try:
            response = self.connector.http.request(method, self.path(node), action=action, params=params, data=data,
                                                   headers=headers)
        except ProviderError as exc:
            if is_permission_code(self.connector.last_graph_code):
                raise ProviderError(
                    f"Facebook refused a permission ({exc.provider_message or exc.message}). Reconnect the "
                    f"integration granting {GRANTS}, as an admin of the page.",
                    status_code=exc.status_code, provider_message=exc.provider_message, transient=False,
                    details=exc.details) from exc
            raise
        return response.json()

    def get(self, node: str, *, action: str, token: str = "", params: dict[str, Any] | None = None) -> Any:
        return self.call("GET", node, action=action, token=token, params=params)

    def post(self, node: str, *, action: str, token: str, data: dict[str, Any]) -> Any:
        return self.call("POST", node, action=action, token=token, data=data)

    def page(self, node: str, *, action: str, params: dict[str, Any], after: str | None,
             token: str = "") -> tuple[list[dict], str | None]:
        """One page of an edge and the cursor of the next (None: this was the last)."""
        query = {**params, "limit": PAGE_LIMIT, **({"after": after} if after else {})}
        body = self.get(node, action=action, token=token, params=query)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise ProviderError("Facebook answered a list without `data`.", transient=False)
        paging = body.get("paging") or {}
        following = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
        return data, following
