"""Meta's webhooks for ad accounts: the subscription check and the signed deliveries, on the shared Meta scheme.

The scheme (`connectors/schemes.py` META) verifies `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body>` and gives the app-level address `/api/webhooks/meta/`, where a delivery is routed by its entries' ids to
the integration that claimed the ad account (a completed connect claims every account the token can reach).

Signing secret: the Meta app's secret — the integration's `webhook_secret` when set, else the app-wide
`META_ADS_CLIENT_SECRET`. Verify token (the GET `hub.verify_token`): the integration's
`credentials["verify_token"]`, else the app-wide `META_ADS_WEBHOOK_VERIFY_TOKEN`; a wrong or missing one is
answered 403 and nothing is stored.

A delivery `{"object": "ad_account", "entry": [{"id", "time", "changes": [{"field", "value"}]}]}` names ad
objects in `value` (`{"id", "level": "CAMPAIGN"|"AD_SET"|"AD", …}`); each change of a campaign becomes one
`campaign_change` event, which processing answers by re-reading those campaigns from the API (the body says
*that* something changed, not its new budget or status) and importing them through the one import path.
"""

from __future__ import annotations

import json

from connectors.base import WebhookEvent
from connectors.meta_graph import handshake

__all__ = ["CAMPAIGN_CHANGE", "handshake", "parse"]

CAMPAIGN_CHANGE = "campaign_change"


def parse(body: bytes) -> list[WebhookEvent]:
    payload = json.loads(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ValueError("A Meta delivery has an `entry` list.")
    kind = str(payload.get("object") or "")
    events = []
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            raise ValueError("Every entry of a Meta delivery is an object.")
        for change in entry.get("changes") or []:
            field = str(change.get("field") or "") if isinstance(change, dict) else ""
            value = change.get("value") if isinstance(change, dict) else None
            value = value if isinstance(value, dict) else {}
            level = str(value.get("level") or "").upper()
            is_campaign = level == "CAMPAIGN" and value.get("id") is not None
            events.append(WebhookEvent(
                event_type=f"{kind}.{field}" if field else kind,
                external_id=f"{entry.get('id')}:{value.get('id')}:{entry.get('time')}",
                resource=CAMPAIGN_CHANGE if is_campaign else "",
                payload={"ad_account_id": str(entry.get("id") or ""), "field": field, "value": value,
                         **({"campaign_id": str(value["id"])} if is_campaign else {})},
            ))
    return events
