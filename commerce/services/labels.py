"""Shipping labels: keep a fetched label in the labels storage, read it back, and print many as one PDF.

The storage is the project's `labels` storage (settings.STORAGES["labels"]): a folder under var/ by default,
an S3-compatible bucket when LABEL_STORAGE_S3_BUCKET is set. Fetching a label calls a provider, so it is the
pipeline's (syncjobs/labels.py); this module only stores what it got and serves it.

A label stored again for the same order and tracking number replaces the file in place (one row per parcel).
Merging reads each label from storage and appends its pages with pypdf; a label that is not a PDF (a ZPL
label for a thermal printer) cannot be merged and is reported, not silently left out.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError

from config.errors import NotFound, ValidationError
from integrations.models import Integration

from ..models import Fulfillment, LabelSource, Order, ShippingLabel

PDF = "application/pdf"
MERGE_LIMIT = 500  # labels per merged PDF: a day's batch, and a bounded response


def label_storage() -> Storage:
    return storages["labels"]


def _path(order: Order, tracking_number: str, content_type: str) -> str:
    extension = "pdf" if content_type == PDF else "zpl" if "zpl" in content_type else "bin"
    safe = "".join(c for c in tracking_number if c.isalnum() or c in "-_")[:80] or "label"
    return f"org-{order.organization_id}/order-{order.pk}/{safe}.{extension}"


@transaction.atomic
def label_store(*, order: Order, tracking_number: str, content: bytes, content_type: str = PDF,
                integration: Integration | None = None, fulfillment: Fulfillment | None = None,
                source: str = LabelSource.COURIER) -> ShippingLabel:
    """Write the label file and its row (replacing a previous label of the same parcel).

    ValidationError, storing nothing, for an empty document or one that says it is a PDF and is not.
    """
    tracking_number = str(tracking_number or "").strip()
    if not tracking_number:
        raise ValidationError("A label needs its tracking number.", details={"tracking_number": ["required"]})
    if not content:
        raise ValidationError("The label is empty.", details={"content": ["empty"]})
    if content_type == PDF and not content.lstrip()[:5] == b"%PDF-":
        raise ValidationError("The label says it is a PDF and is not one.", details={"content": ["not a PDF"]})
    storage = label_storage()
    path = _path(order, tracking_number, content_type)
    if storage.exists(path):
        storage.delete(path)
    saved = storage.save(path, ContentFile(content))
    label, _ = ShippingLabel.objects.update_or_create(
        order=order, tracking_number=tracking_number[:100],
        defaults={"organization_id": order.organization_id, "fulfillment": fulfillment, "integration": integration,
                  "source": source, "path": saved, "content_type": content_type[:100], "size": len(content),
                  "sha256": hashlib.sha256(content).hexdigest()},
    )
    return label


def label_read(label: ShippingLabel) -> bytes:
    """The label's bytes; NotFound when the file is gone from storage (the row stays for the operator to see)."""
    storage = label_storage()
    try:
        with storage.open(label.path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise NotFound(f"The label file of {label.tracking_number} is missing from storage.",
                       details={"label": label.pk}) from None


@dataclass
class MergedLabels:
    content: bytes
    pages: int
    labels: int
    skipped: list[dict[str, Any]] = field(default_factory=list)


def labels_merge(labels: list[ShippingLabel]) -> MergedLabels:
    """One PDF of the labels' pages, in the order given; ValidationError when none of them is a PDF."""
    if len(labels) > MERGE_LIMIT:
        raise ValidationError(f"At most {MERGE_LIMIT} labels print at once.", details={"ids": ["too many"]})
    writer, skipped, merged = PdfWriter(), [], 0
    for label in labels:
        if not label.is_pdf:
            skipped.append({"order_id": label.order_id, "tracking_number": label.tracking_number,
                            "reason": f"not a PDF ({label.content_type})"})
            continue
        try:
            writer.append(PdfReader(io.BytesIO(label_read(label))))
        except (NotFound, PdfReadError) as exc:
            skipped.append({"order_id": label.order_id, "tracking_number": label.tracking_number,
                            "reason": str(getattr(exc, "message", exc))})
            continue
        merged += 1
    if not merged:
        raise ValidationError("None of these labels can be printed as a PDF.", details={"labels": skipped},
                              code="NO_PRINTABLE_LABELS")
    out = io.BytesIO()
    writer.write(out)
    return MergedLabels(content=out.getvalue(), pages=len(writer.pages), labels=merged, skipped=skipped)


def labels_for_orders(*, organization, order_ids: list[int]) -> list[ShippingLabel]:
    """The newest label of each of the organization's orders, in the order of `order_ids`; NotFound naming the
    orders that have none (another organization's order has none, as far as the caller can tell)."""
    rows: dict[int, ShippingLabel] = {}
    for label in (ShippingLabel.objects.filter(organization=organization, order_id__in=order_ids)
                  .order_by("order_id", "-created_at", "-id")):
        rows.setdefault(label.order_id, label)
    missing = [pk for pk in order_ids if pk not in rows]
    if missing:
        raise NotFound("Some orders have no stored label; fetch them first.", details={"order_ids": missing},
                       code="LABEL_NOT_FOUND")
    return [rows[pk] for pk in order_ids]
