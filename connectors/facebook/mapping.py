"""Facebook Pages records in the social records' words (connectors/capabilities.py `SocialChannel`).

A page post's id is `{page}_{post}`: kept whole as the external id (it is what the API, the webhooks and a
publish answer name), and its page part names the account when the record does not carry it.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

# attachments' media_type → the post's kind
KINDS = {"video": "video", "video_inline": "video", "video_autoplay": "video", "album": "carousel"}


def normalize_page(record: dict[str, Any]) -> dict[str, Any]:
    picture = ((record.get("picture") or {}).get("data") or {}).get("url")
    followers = (record.get("_insights") or {}).get("page_follows", record.get("followers_count"))
    return {"external_id": str(record["id"]), "handle": f"@{record['username']}" if record.get("username") else "",
            "name": str(record.get("name") or ""), "followers": int(followers) if followers is not None else None,
            "picture_url": str(picture or "")}


def _summary_count(record: dict[str, Any], edge: str) -> int:
    return int(((record.get(edge) or {}).get("summary") or {}).get("total_count") or 0)


def normalize_post(record: dict[str, Any]) -> dict[str, Any]:
    external_id = str(record["id"])
    attachments = (record.get("attachments") or {}).get("data") or []
    first = attachments[0] if attachments and isinstance(attachments[0], dict) else {}
    image = ((first.get("media") or {}).get("image") or {}).get("src")
    insights = record.get("_insights") or {}
    metrics = {"date": timezone.localdate(), "views": insights.get("post_media_view", 0),
               "reach": insights.get("post_total_media_view_unique", 0),
               "likes": _summary_count(record, "reactions"), "comments": _summary_count(record, "comments"),
               "shares": int((record.get("shares") or {}).get("count") or 0), "saves": 0}
    return {"external_id": external_id,
            "account_external_id": str(record.get("_page") or external_id.split("_", 1)[0]),
            "kind": KINDS.get(str(first.get("media_type") or ""), "post"),
            "caption": str(record.get("message") or ""), "media_urls": [image] if image else [],
            "permalink": str(record.get("permalink_url") or ""),
            "published_at": parse_datetime(record["created_time"]) if record.get("created_time") else None,
            "metrics": metrics}


def insight_values(body: Any) -> dict[str, int]:
    """`{"data": [{"name", "values": [{"value"}]}]}` → name → the latest value (a number; a breakdown is summed)."""
    values: dict[str, int] = {}
    for metric in (body or {}).get("data") or []:
        points = metric.get("values") or [{}]
        value = points[-1].get("value", 0)
        values[str(metric.get("name"))] = int(sum(value.values()) if isinstance(value, dict) else value or 0)
    return values
