"""A notice in Block Kit: a header, the text, the facts as fields, a button to the console; digests as sections.

Slack's limits: 50 blocks a message, a header's text 150 characters, a section's 3000, 10 fields. Text in
mrkdwn escapes `&`, `<` and `>` (Slack's own rule), so an error message cannot forge a link or a mention.
"""

from __future__ import annotations

from typing import Any

from connectors.capabilities import NoticeMessage

EMOJI = {"alert": ":rotating_light:", "resolved": ":white_check_mark:", "info": ":information_source:",
         "digest": ":bookmark_tabs:"}
DIGEST_ITEMS = 45  # sections of a digest; the rest is counted in one line


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback_text(message: NoticeMessage) -> str:
    """`text`: what notifications and screen readers show."""
    return f"{EMOJI.get(message.state, '')} {message.headline}".strip()


def blocks(message: NoticeMessage) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fallback_text(message)[:150], "emoji": True}},
    ]
    if message.text:
        found.append({"type": "section", "text": {"type": "mrkdwn", "text": escape(message.text)[:3000]}})
    if message.facts:
        found.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{escape(label)}*\n{escape(value)}"[:2000]}
            for label, value in message.facts[:10]
        ]})
    for item in message.items[:DIGEST_ITEMS]:
        line = f"{EMOJI.get(item.state, '')} *{escape(item.headline)}*"
        if item.text:
            line += f"\n{escape(item.text)}"
        found.append({"type": "section", "text": {"type": "mrkdwn", "text": line[:3000]}})
    if len(message.items) > DIGEST_ITEMS:
        found.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"…and {len(message.items) - DIGEST_ITEMS} more in the console."}]})
    if message.link:
        found.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open in Switchyard"}, "url": message.link}]})
    return found
