"""Records of what happens to an order after it ships: tracking events, shipping labels, returns.

Loaded by commerce.models (Django finds them there). Only commerce.services writes these rows.

- TrackingEvent: one event of a parcel as the courier (or channel) reported it, stored once per
  (order, tracking number, event key), so a replayed tracking answer adds nothing.
- ShippingLabel: the label document of one tracking number (a courier's AWB PDF, a channel's label), kept in
  the `labels` storage (a local folder under var/ by default, an S3-compatible bucket when configured); the
  row holds its path, never its bytes. Labels carry the customer's name and address: they are served only
  through the API and the console, never from a public URL.
- Return / ReturnLine: goods coming back, from a channel's claim or entered by an operator. A line restocks
  its quantity once: a channel return is keyed by the channel's claim id and each line by the claim item id,
  so re-importing the claim restocks nothing again.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Organization
from integrations.models import Integration


class TrackingEvent(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tracking_events")
    order = models.ForeignKey("commerce.Order", on_delete=models.CASCADE, related_name="tracking_events")
    integration = models.ForeignKey(Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    help_text="The courier or channel that reported it.")
    tracking_number = models.CharField(max_length=100)
    external_id = models.CharField(max_length=255, help_text="The event's key at its source (code and time).")
    code = models.CharField(max_length=64, blank=True, default="", help_text="The source's own event code.")
    description = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=24, blank=True, default="",
                              help_text="The order status it means (the one status table); blank = none.")
    occurred_at = models.DateTimeField()
    applied = models.BooleanField(default=False, help_text="It moved the order (newer than every event before).")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "tracking_number", "external_id"], name="trackingevent_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number} {self.code or self.status} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class LabelSource(models.TextChoices):
    COURIER = "courier", "Courier"
    CHANNEL = "channel", "Channel"


class ShippingLabel(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="shipping_labels")
    order = models.ForeignKey("commerce.Order", on_delete=models.CASCADE, related_name="labels")
    fulfillment = models.ForeignKey("commerce.Fulfillment", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="labels")
    integration = models.ForeignKey(Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    help_text="The courier or channel the label came from.")
    source = models.CharField(max_length=16, choices=LabelSource.choices)
    tracking_number = models.CharField(max_length=100)
    path = models.CharField(max_length=500, help_text="Where it is in the labels storage.")
    content_type = models.CharField(max_length=100, default="application/pdf")
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "tracking_number"], name="shippinglabel_order_tracking"),
        ]

    def __str__(self) -> str:
        return f"label {self.tracking_number}"

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf"

    @property
    def filename(self) -> str:
        extension = "pdf" if self.is_pdf else "zpl" if "zpl" in self.content_type else "bin"
        return f"label-{self.tracking_number}.{extension}"


class ReturnSource(models.TextChoices):
    CHANNEL = "channel", "Channel (claim)"
    OPERATOR = "operator", "Operator"


class Return(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="returns")
    order = models.ForeignKey("commerce.Order", on_delete=models.CASCADE, related_name="returns")
    integration = models.ForeignKey(Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    help_text="The channel the claim came from; empty for an operator's return.")
    source = models.CharField(max_length=16, choices=ReturnSource.choices)
    external_id = models.CharField(max_length=255, blank=True, default="",
                                   help_text="The channel's claim id (or the operator's reference); the dedup key.")
    reason = models.CharField(max_length=300, blank=True, default="")
    location = models.CharField(max_length=100, help_text="The ERP stock location the goods went back to.")
    requested_at = models.DateTimeField(null=True, blank=True, help_text="When the customer asked (channel's time).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "external_id"], condition=~Q(external_id=""),
                                    name="return_channel_external_id"),
            models.UniqueConstraint(fields=["organization", "external_id"],
                                    condition=~Q(external_id="") & Q(integration__isnull=True),
                                    name="return_operator_reference"),
        ]

    def __str__(self) -> str:
        return f"Return {self.external_id or self.pk} of order {self.order_id}"


class ReturnLine(models.Model):
    return_record = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("commerce.OrderLine", on_delete=models.CASCADE, related_name="return_lines")
    external_id = models.CharField(max_length=255, blank=True, default="",
                                   help_text="The channel's claim item id; a line already recorded is not "
                                             "restocked again.")
    quantity = models.PositiveIntegerField()
    restocked_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["return_record", "external_id"], condition=~Q(external_id=""),
                                    name="returnline_external_id"),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"
