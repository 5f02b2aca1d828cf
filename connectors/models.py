"""Payments that providers drive by calling us (Payme's merchant API, Click's prepare/complete).

One `PaymentTransaction` per provider transaction, unique per (integration,
provider transaction id): a provider retrying a call finds the row it made and
gets the same answer, so an order is marked paid once however often it asks.
The database also keeps at most one *open* transaction (state 1, created) per
order and integration, so two payment attempts cannot race to pay one order.

`state` follows Payme's numbering, which Click's two steps fit too:
1 created (Payme CreateTransaction / Click prepare), 2 performed (Perform /
complete), -1 cancelled before perform, -2 cancelled after perform (refunded).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from integrations.models import Integration


class PaymentState(models.IntegerChoices):
    CREATED = 1, "Created"
    PERFORMED = 2, "Performed"
    CANCELLED = -1, "Cancelled before perform"
    CANCELLED_AFTER_PERFORM = -2, "Cancelled after perform"


class PaymentTransaction(models.Model):
    provider = models.CharField(max_length=32, help_text="The registry key of the gateway's connector.")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="payment_transactions")
    external_id = models.CharField(max_length=255, help_text="The provider's transaction id.")
    order = models.ForeignKey("commerce.Order", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="payment_transactions")
    amount = models.DecimalField(max_digits=14, decimal_places=2, help_text="In the order's currency (UZS).")
    currency = models.CharField(max_length=3, default="UZS")
    state = models.SmallIntegerField(choices=PaymentState.choices, default=PaymentState.CREATED)
    provider_time = models.DateTimeField(null=True, blank=True, help_text="When the provider says it began.")
    created_at = models.DateTimeField(help_text="When we created it (the gateway's create time).")
    performed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reason = models.SmallIntegerField(null=True, blank=True, help_text="The provider's cancel reason code.")
    account = models.JSONField(default=dict, blank=True,
                               help_text="What the payer entered (the gateway's account fields).")
    metadata = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "external_id"], name="paymenttx_integration_external"),
            models.UniqueConstraint(fields=["integration", "order"], condition=Q(state=1),
                                    name="paymenttx_one_open_per_order"),
        ]
        indexes = [models.Index(fields=["integration", "provider_time"], name="paymenttx_provider_time")]

    def __str__(self) -> str:
        return f"{self.provider} {self.external_id} ({self.get_state_display()})"
