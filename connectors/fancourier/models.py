"""One AWB booked with FAN Courier and where it is: the record the tracking task keeps up to date.

Fulfillment (commerce) has the tracking number and no delivery state; this row
adds what the courier says happened to the parcel, so "open AWBs" are a query
and "delivered" is a fact with a date an operator can see in the admin.
"""

from __future__ import annotations

from django.db import models

from accounts.models import Organization
from integrations.models import Integration

from .mapping import ShipmentStatus

MONEY = {"max_digits": 14, "decimal_places": 4}  # as commerce's amounts, so COD and the order total compare exactly


class Shipment(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="fancourier_shipments")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="fancourier_shipments",
                                    help_text="The FAN Courier integration that booked the AWB.")
    order = models.ForeignKey("commerce.Order", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="fancourier_shipments")
    awb_number = models.CharField(max_length=32)
    service = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=24, choices=ShipmentStatus.choices, default=ShipmentStatus.CREATED)
    status_code = models.CharField(max_length=16, blank=True, default="", help_text="FAN Courier's last event code.")
    status_name = models.CharField(max_length=200, blank=True, default="")
    status_at = models.DateTimeField(null=True, blank=True, help_text="When the last event happened.")
    is_open = models.BooleanField(default=True, help_text="Still tracked: not delivered or returned yet.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    cod_amount = models.DecimalField(**MONEY, default=0)
    declared_value = models.DecimalField(**MONEY, default=0)
    tariff = models.DecimalField(**MONEY, null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    check_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "awb_number"], name="fancourier_shipment_awb"),
        ]
        indexes = [models.Index(fields=["integration", "is_open", "last_checked_at"], name="fancourier_open_awbs")]

    def __str__(self) -> str:
        return f"AWB {self.awb_number}"
