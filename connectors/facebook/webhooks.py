"""Facebook Page webhooks on the shared Meta receiver (`/api/webhooks/meta/`, connectors/schemes.py META).

One address serves every Meta app delivery; the receiver routes a delivery by its entries' ids to the one
integration that claimed them (a connect claims its pages as `meta.page`, the ad connector its ad accounts), and
that integration's connector parses it — so a page delivery reaches this parser, an ad account one the ad
connector's. Signed `X-Hub-Signature-256` with the Meta app's secret.

A page delivery `{"object": "page", "entry": [{"id": page, "time", "changes": [{"field": "feed", "value":
{"item", "verb", "post_id", …}}]}]}` says *that* a post changed (added, edited, commented on, reacted to), not
its whole new state: each such change is a `post_change` event, which processing answers by re-reading those
posts from the API and importing them through the one import path (syncjobs/repull.py `posts_repull`). A
removed post is recorded and ignored (the ERP keeps what it imported); other fields are stored and ignored.
"""

from __future__ import annotations

import json

from connectors.base import WebhookEvent

POST_CHANGE = "post_change"
POST_VERBS = frozenset({"add", "edited", "edit", "update"})


def parse(body: bytes) -> list[WebhookEvent]:
    payload = json.loads(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ValueError("A Meta delivery has an `entry` list.")
    kind = str(payload.get("object") or "")
    events = []
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            raise ValueError("Every entry of a Meta delivery is an object.")
        page = str(entry.get("id") or "")
        for change in entry.get("changes") or []:
            field = str(change.get("field") or "") if isinstance(change, dict) else ""
            value = change.get("value") if isinstance(change, dict) else None
            value = value if isinstance(value, dict) else {}
            item, verb = str(value.get("item") or ""), str(value.get("verb") or "")
            post_id = str(value.get("post_id") or "")
            # A comment or reaction changes its post's counts: the post is read again too.
            changed = kind == "page" and field == "feed" and post_id.startswith(f"{page}_") and (
                verb in POST_VERBS or item in ("comment", "reaction"))
            events.append(WebhookEvent(
                event_type=".".join(part for part in (kind, field, item, verb) if part),
                external_id=f"{page}:{post_id or value.get('comment_id') or ''}:{item}:{verb}:{entry.get('time')}",
                resource=POST_CHANGE if changed else "",
                payload={"page_id": page, "field": field, "value": value,
                         **({"post_id": post_id} if changed else {})},
            ))
    return events
