"""A notice as a Discord embed: title, description, fields, colour by state; a digest as one embed per item.

Discord's limits: 10 embeds a message, a title 256 characters, a description 4096, 25 fields (name 256,
value 1024), `content` 2000. Mentions are switched off (`allowed_mentions: {"parse": []}`), so an error
message quoting `@everyone` pings nobody.
"""

from __future__ import annotations

from typing import Any

from connectors.capabilities import NoticeMessage

COLOURS = {"alert": 0xD83C3E, "resolved": 0x2EB67D, "info": 0x3B82F6, "digest": 0x6B7280}
USERNAME = "Switchyard"


def embed(message: NoticeMessage) -> dict[str, Any]:
    found: dict[str, Any] = {"title": message.headline[:256], "color": COLOURS.get(message.state, COLOURS["info"])}
    if message.text:
        found["description"] = message.text[:4096]
    if message.facts:
        found["fields"] = [{"name": label[:256], "value": (value or "—")[:1024], "inline": True}
                           for label, value in message.facts[:25]]
    if message.link:
        found["url"] = message.link
    return found


def payload(message: NoticeMessage) -> dict[str, Any]:
    if message.items:
        embeds = [embed(item) for item in message.items[:9]]
        more = len(message.items) - len(embeds)
        content = message.headline + (f" (…and {more} more in the console)" if more > 0 else "")
        return {"username": USERNAME, "content": content[:2000], "embeds": embeds,
                "allowed_mentions": {"parse": []}}
    return {"username": USERNAME, "embeds": [embed(message)], "allowed_mentions": {"parse": []}}
