"""Webhook signature schemes: how a delivery is verified, identified and recorded, and where an app-level one lands.

A receiving connector declares its scheme (`WebhookReceiver.webhook_scheme`,
connectors/capabilities.py) and the receive pipeline (webhooks/inbound/) asks
the connector, never a table of providers. A provider's own scheme lives in its
folder (`connectors/<provider>/webhooks.py`); this module holds the `Scheme`
shape and the schemes several providers share:

- `hmac-sha256`, `hmac-sha256-hex`, `hmac-sha256-base64`: an HMAC-SHA256 of the
  body in a header the integration's `config["webhook"]` may name (`header`,
  `encoding`, `prefix`; event ids from its `event_type_header` and
  `event_id_header`);
- `standard-webhooks` (https://www.standardwebhooks.com/): event id `webhook-id`;
- `meta` (`X-Hub-Signature-256: sha256=<hex>`; the pages, Instagram and ad
  accounts of Meta apps): no event id, so `sha256:<body hash>` (a redelivery
  carries the same body); its handshake, `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`,
  echoes the challenge as text when the token is the integration's
  `credentials["verify_token"]`; its app-level address `/api/webhooks/meta/`
  routes a delivery by its entries' ids;
- `slack` (`X-Slack-Signature: v0=<hex>` over `v0:{timestamp}:{body}`): event id `event_id`.

Fingerprints (replays): a scheme whose event id is not signed may give a
fingerprint of what is signed; a delivery whose fingerprint was stored within
the connector's `webhook_replay_window()` is the same delivery (webhooks/inbound/services.py).

App routes: a provider that sends every account's deliveries of one app to one
address (not one per integration) names it in `app_route`; the delivery is
routed to the one integration that claimed the account it names
(integrations/routing.py), among the registered connectors whose scheme has
that route. The receive URLs (webhooks/inbound/urls.py) and the schema are
derived from the registered schemes and `SHARED`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import signing
from .signing import header

# (headers, body, parsed JSON payload, the integration's config["webhook"]) -> (event type, provider event id)
Identify = Callable[[Mapping[str, str], bytes, Any, Mapping[str, Any]], tuple[str, str]]
Fingerprint = Callable[[Mapping[str, str], bytes], str]
# (method, headers, query, body, integration) -> (HTTP status, body: a str is sent as text, else JSON) | None
Handshake = Callable[[str, Mapping[str, str], Mapping[str, str], bytes, Any], "tuple[int, Any] | None"]


def text(value: Any) -> str:
    return "" if value is None or isinstance(value, (dict, list)) else str(value)


def field_of(payload: Any, key: str) -> str:
    """A scalar field of a JSON object as text; "" when absent, not scalar, or the payload is no object."""
    return text(payload.get(key)) if isinstance(payload, dict) else ""


@dataclass(frozen=True)
class AppRoute:
    """An app-level receive address, `/api/webhooks/<name>/`, and how a delivery names the account it is for.

    `accounts(headers, body)` → the account ids named (empty: refused as unrouted);
    `openapi`: the path item `/api/schema/` shows for it.
    """

    name: str
    accounts: Callable[[Mapping[str, str], bytes], set[str]]
    openapi: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scheme:
    name: str
    verify: Callable[..., bool] | None = None  # (headers, body, secrets, **options); None: the connector verifies
    identify: Identify | None = None
    signature_header: str = ""
    timestamped: bool = False
    configurable: bool = False  # reads header/encoding/prefix from config["webhook"]
    encoding: str = "hex"  # the configurable schemes' default encoding
    handshake: Handshake | None = None
    fingerprint: Fingerprint | None = None  # for schemes whose event id is not signed (see the module's docstring)
    app_route: AppRoute | None = None

    def check(self, headers: Mapping[str, str], body: bytes, secrets: list[str], options: Mapping[str, Any],
              *, tolerance: int) -> bool:
        if self.verify is None:
            return False
        kwargs: dict[str, Any] = {"tolerance": tolerance} if self.timestamped else {}
        if self.configurable:
            kwargs.update(
                header_name=options.get("header") or self.signature_header,
                encoding=options.get("encoding") or self.encoding,
                prefix=options.get("prefix") or "",
            )
        return self.verify(headers, body, secrets, **kwargs)

    def signature(self, headers: Mapping[str, str], options: Mapping[str, Any]) -> str:
        """The signature as sent, for the record ("" when the scheme has no header or it is absent)."""
        name = (options.get("header") if self.configurable else None) or self.signature_header
        return header(headers, name)[:512] if name else ""


# ---------------------------------------------------------------- generic HMAC


def _identify_generic(headers, body, payload, options) -> tuple[str, str]:
    type_header, id_header = options.get("event_type_header"), options.get("event_id_header")
    event_type = (header(headers, type_header) if type_header
                  else field_of(payload, "type") or field_of(payload, "event"))
    return event_type, header(headers, id_header) if id_header else ""


def _generic(name: str, encoding: str) -> Scheme:
    return Scheme(name, signing.verify_hmac_sha256, _identify_generic, "X-Signature", configurable=True,
                  encoding=encoding)


HMAC_SHA256 = _generic("hmac-sha256", "hex")
HMAC_SHA256_HEX = _generic("hmac-sha256-hex", "hex")
HMAC_SHA256_BASE64 = _generic("hmac-sha256-base64", "base64")


# ---------------------------------------------------------------- Standard Webhooks


def _identify_standard_webhooks(headers, body, payload, options) -> tuple[str, str]:
    return field_of(payload, "type"), header(headers, "webhook-id")


STANDARD_WEBHOOKS = Scheme("standard-webhooks", signing.verify_standard_webhooks, _identify_standard_webhooks,
                           "webhook-signature", timestamped=True)


# ---------------------------------------------------------------- Meta


def verify_meta(headers: Mapping[str, str], body: bytes, secrets) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>`: HMAC-SHA256 of the raw body under the app secret.

    The legacy SHA-1 `X-Hub-Signature` is not accepted.
    """
    scheme, _, digest = header(headers, "X-Hub-Signature-256").partition("=")
    if scheme.lower() != "sha256" or not digest:
        return False
    return signing.verify_body_hmac(digest, body, secrets, encoding="hex")


def _identify_meta(headers, body, payload, options) -> tuple[str, str]:
    return field_of(payload, "object"), f"sha256:{hashlib.sha256(body).hexdigest()}"


def _handshake_meta(method, headers, query, body, integration) -> tuple[int, Any] | None:
    mode, token = query.get("hub.mode", ""), query.get("hub.verify_token", "")
    challenge = query.get("hub.challenge", "")
    if method.upper() != "GET" or mode != "subscribe" or not token or not challenge or len(challenge) > 256:
        return None
    expected = str((integration.credentials or {}).get("verify_token") or "")
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        return None
    return 200, challenge


def _meta_entry_ids(headers: Mapping[str, str], body: bytes) -> set[str]:
    try:
        entries = json.loads(body).get("entry") or []
    except (ValueError, AttributeError):
        return set()
    return {str(entry["id"]) for entry in entries if isinstance(entry, dict) and entry.get("id") is not None}


def _meta_openapi() -> dict[str, Any]:
    from config.schema import ERROR, json_response, webhook_post

    return {
        "get": {
            "operationId": "meta_verify_subscription",
            "summary": "Meta subscription check",
            "description": "Answers `hub.challenge` when `hub.verify_token` matches an integration's token.",
            "tags": ["provider callbacks"], "security": [],
            "parameters": [{"name": n, "in": "query", "required": True, "schema": {"type": "string"}}
                           for n in ("hub.mode", "hub.verify_token", "hub.challenge")],
            "responses": {"200": {"description": "The challenge, as text."},
                          "403": json_response(ERROR, "INVALID_VERIFY_TOKEN")},
        },
        "post": webhook_post("Receive a Meta webhook",
                             "Routed to the one integration that claimed the entries' ids (pages, ad "
                             "accounts); signed with `X-Hub-Signature-256`. None: 404; several: 409.", [],
                             routed=True),
    }


META = Scheme("meta", verify_meta, _identify_meta, "X-Hub-Signature-256", handshake=_handshake_meta,
              app_route=AppRoute("meta", _meta_entry_ids, openapi=_meta_openapi()))


# ---------------------------------------------------------------- Slack


def verify_slack(
    headers: Mapping[str, str],
    body: bytes,
    secrets,
    *,
    tolerance: int = signing.DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """`X-Slack-Signature: v0=<hex>` over `"v0:{X-Slack-Request-Timestamp}:{body}"` with the signing secret.

    A timestamp more than `tolerance` seconds from now, either way, is refused (Slack's replay rule).
    """
    timestamp = header(headers, "X-Slack-Request-Timestamp")
    version, _, digest = header(headers, "X-Slack-Signature").partition("=")
    if version != "v0" or not digest or signing.fresh(timestamp, tolerance=tolerance, now=now, future=True) is None:
        return False
    signed = b"v0:" + timestamp.encode() + b":" + body
    return signing.any_equal(digest.lower().encode(), signing.hex_hmacs(signed, secrets))


def _identify_slack(headers, body, payload, options) -> tuple[str, str]:
    event = payload.get("event") if isinstance(payload, dict) else None
    event_type = field_of(event, "type") or field_of(payload, "type")
    return event_type, field_of(payload, "event_id")


SLACK = Scheme("slack", verify_slack, _identify_slack, "X-Slack-Signature", timestamped=True)


SHARED: dict[str, Scheme] = {s.name: s for s in (HMAC_SHA256, HMAC_SHA256_HEX, HMAC_SHA256_BASE64,
                                                  STANDARD_WEBHOOKS, META, SLACK)}
