"""A scan of an integration's Drive folders: the tree recorded, images linked to the products they show.

Walks each folder of `config["folders"]` breadth first (to `config["max_depth"]`, default 5), listing each
folder page by page; upserts a DriveFile per file and folder, deletes the rows of files no longer there (or
trashed), then links each image to the product whose SKU its name carries (images.py), asking commerce for
the SKUs through the catalogue port. The provider calls happen before the one transaction that writes, so a
slow Drive never holds a lock; a scan that fails part way writes nothing and the next one starts over.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from connectors.catalogue import catalogue

from . import images
from .models import FOLDER_MIME, DriveFile

DEFAULT_MAX_DEPTH = 5
UPDATE_FIELDS = ["name", "mime_type", "is_folder", "parent_id", "path", "depth", "size", "modified_at",
                 "web_view_link", "web_content_link", "thumbnail_link", "product", "matched_sku", "seen_at"]


def drive_scan(connector: Any) -> dict[str, int]:
    """Scan and record; {"files", "folders", "images", "matched", "removed"}."""
    integration = connector.integration
    max_depth = int(connector.config.get("max_depth") or DEFAULT_MAX_DEPTH)
    client = connector.client
    now = timezone.now()
    rows: dict[str, DriveFile] = {}
    queue: deque[tuple[str, str, int]] = deque()
    for root in connector.folder_ids():
        folder = client.file(root)
        rows[root] = _row(integration, folder, parent="", path=folder.get("name") or root, depth=0, now=now)
        queue.append((root, rows[root].path, 0))
    while queue:
        folder_id, path, depth = queue.popleft()
        for page in client.children(folder_id):
            for item in page:
                if item["id"] in rows:
                    continue  # a file in two scanned folders: its first place wins
                row = _row(integration, item, parent=folder_id, path=f"{path}/{item.get('name', '')}",
                           depth=depth + 1, now=now)
                rows[item["id"]] = row
                if row.is_folder and depth + 1 < max_depth:
                    queue.append((item["id"], row.path, depth + 1))

    pictures = [row for row in rows.values() if images.is_image(row.mime_type)]
    candidates = {c for row in pictures for c in images.sku_candidates(row.name)}
    product_ids = catalogue().product_ids_by_sku(organization_id=integration.organization_id, skus=candidates)
    matched = images.match_skus([row.name for row in pictures], product_ids)
    for row in pictures:
        row.matched_sku = matched.get(row.name, "")
        row.product_id = product_ids.get(row.matched_sku) if row.matched_sku else None

    with transaction.atomic():
        if rows:
            DriveFile.objects.bulk_create(list(rows.values()), update_conflicts=True,
                                          unique_fields=["integration", "file_id"], update_fields=UPDATE_FIELDS)
        removed, _ = DriveFile.objects.filter(integration=integration).exclude(file_id__in=list(rows)).delete()
    return {"files": sum(not r.is_folder for r in rows.values()), "folders": sum(r.is_folder for r in rows.values()),
            "images": len(pictures), "matched": sum(1 for r in pictures if r.product_id), "removed": removed}


def _row(integration: Any, item: dict[str, Any], *, parent: str, path: str, depth: int, now: datetime) -> DriveFile:
    size = item.get("size")
    return DriveFile(
        organization_id=integration.organization_id, integration=integration, file_id=str(item["id"])[:128],
        name=str(item.get("name") or "")[:500], mime_type=str(item.get("mimeType") or "")[:200],
        is_folder=item.get("mimeType") == FOLDER_MIME, parent_id=parent[:128], path=path[:2000], depth=depth,
        size=int(size) if str(size or "").isdigit() else None, modified_at=_time(item.get("modifiedTime")),
        web_view_link=str(item.get("webViewLink") or "")[:1000],
        web_content_link=str(item.get("webContentLink") or "")[:1000],
        thumbnail_link=str(item.get("thumbnailLink") or "")[:1000], seen_at=now,
    )


def _time(value: Any) -> datetime | None:
    """Drive's RFC 3339 times (`2024-05-29T10:00:00.000Z`)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
