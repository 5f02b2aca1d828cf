"""HTTP calls to a 1C:Enterprise infobase's standard OData interface (OData v3), through the one HTTP client.

Every call asks for JSON (`$format=json`); lists are `{"odata.metadata", "value": [...]}`, one record
`<EntitySet>(guid'<Ref_Key>')`. Paging is `$top`/`$skip` with a stable `$orderby` (1C sends no next link).
1C's errors are `{"odata.error": {"code", "message": {"lang", "value"}}}`: the HTTP client raises them as
ProviderError with that body as the provider's message (400: a property or entity set that is not published,
a malformed `$filter`; 404: an entity set that does not exist).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.errors import ProviderError

if TYPE_CHECKING:
    import requests

    from connectors.http import ProviderClient

JSON = {"$format": "json"}


def quoted(value: str) -> str:
    """An OData string literal: single quotes, a quote inside doubled."""
    return "'" + str(value).replace("'", "''") + "'"


class ODataClient:
    def __init__(self, http: ProviderClient):
        self.http = http

    def entity_sets(self) -> list[str]:
        """The names of the published entity sets (the service document)."""
        body = _json(self.http.get("/", action="service_document", params=JSON))
        return [str(item.get("name") or item.get("url") or "") for item in body.get("value") or []
                if isinstance(item, dict)]

    def list(self, entity: str, *, action: str, filter: str = "", select: str = "", orderby: str = "",
             top: int | None = None, skip: int = 0) -> list[dict[str, Any]]:
        """One page of an entity set (or a register's virtual table, `AccumulationRegister_X/Balance`)."""
        params: dict[str, Any] = dict(JSON)
        if filter:
            params["$filter"] = filter
        if select:
            params["$select"] = select
        if orderby:
            params["$orderby"] = orderby
        if top is not None:
            params["$top"] = top
        if skip:
            params["$skip"] = skip
        body = _json(self.http.get(f"/{entity}", action=action, params=params))
        value = body.get("value")
        if not isinstance(value, list):
            raise ProviderError(f"1C answered {entity} without a `value` list.")
        return [row for row in value if isinstance(row, dict)]

    def create(self, entity: str, record: dict[str, Any], *, action: str) -> dict[str, Any]:
        """`POST <EntitySet>` → 201 with the record as 1C stored it (its Ref_Key, Number)."""
        return _json(self.http.post(f"/{entity}", action=action, params=JSON, json=record))

    def post_document(self, entity: str, ref_key: str, *, action: str) -> None:
        """Post (conduct) a document: `POST <EntitySet>(guid'…')/Post?PostingModeOperational=false`."""
        self.http.post(f"/{entity}(guid'{ref_key}')/Post", action=action,
                       params={**JSON, "PostingModeOperational": "false"})


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"1C answered HTTP {response.status_code} with a body that is not JSON (is "
                            "`$format=json` published?).", status_code=response.status_code) from None
    if not isinstance(body, dict):
        raise ProviderError("1C answered with JSON that is not an object.", status_code=response.status_code)
    return body
