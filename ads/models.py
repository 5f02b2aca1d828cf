"""The ERP's advertising records: ad accounts, their campaigns and ad sets, each campaign's spend per day, and a
CRM's marketing campaigns.

Only `ads.services` writes these rows. Each structure row (AdAccount, Campaign,
AdSet) is one provider object of one integration, tied to it by its
ExternalRef (commerce/models.py: integration, resource type, external id →
this row's id, the provider's `updated_time` and a payload hash), which is also
the lock point of an import and what keeps an older version from overwriting a
newer one. The database keeps one row per (integration, external id) however
many workers import at once.

Money is Decimal in major units (12.50 EUR) with its currency: platforms speak
minor units (Meta), micros (Google) or major units (TikTok); connectors
convert. A daily metrics row is the platform's figure for a campaign on a day
in the ad account's time zone; platforms restate recent days, so a re-pull
overwrites it.
"""

from __future__ import annotations

from django.db import models

from accounts.models import Organization
from integrations.models import Integration

MONEY = {"max_digits": 14, "decimal_places": 4}


class DeliveryStatus(models.TextChoices):
    """What the operator set (the platform's `status`), in the ERP's words."""

    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"
    DELETED = "deleted", "Deleted"


class AdAccount(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="ad_accounts")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="ad_accounts")
    external_id = models.CharField(max_length=64, help_text="The platform's id (Meta's without `act_`).")
    name = models.CharField(max_length=300, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    timezone_name = models.CharField(max_length=64, blank=True, default="")
    is_active = models.BooleanField(default=True, help_text="False: the platform disabled or closed the account.")
    external_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["integration", "external_id"], name="adaccount_unique")]

    def __str__(self) -> str:
        return self.name or self.external_id


class Campaign(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="campaigns")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="campaigns")
    ad_account = models.ForeignKey(AdAccount, on_delete=models.CASCADE, related_name="campaigns")
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.ACTIVE)
    effective_status = models.CharField(max_length=40, blank=True, default="",
                                        help_text="The platform's delivery state as it says it (IN_PROCESS…).")
    objective = models.CharField(max_length=64, blank=True, default="")
    daily_budget = models.DecimalField(**MONEY, null=True, blank=True)
    lifetime_budget = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    external_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["integration", "external_id"], name="campaign_unique")]
        indexes = [models.Index(fields=["organization", "status"], name="campaign_org_status")]

    def __str__(self) -> str:
        return self.name or self.external_id


class AdSet(models.Model):
    """Meta's ad set, TikTok's ad group, Google's ad group: targeting and (sometimes) budget under a campaign."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="ad_sets")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="ad_sets")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="ad_sets")
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.ACTIVE)
    effective_status = models.CharField(max_length=40, blank=True, default="")
    optimization_goal = models.CharField(max_length=64, blank=True, default="")
    daily_budget = models.DecimalField(**MONEY, null=True, blank=True)
    lifetime_budget = models.DecimalField(**MONEY, null=True, blank=True)
    external_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["integration", "external_id"], name="adset_unique")]

    def __str__(self) -> str:
        return self.name or self.external_id


class CampaignMetricsDay(models.Model):
    """One campaign's figures for one day (the ad account's day), as the platform last stated them."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="campaign_metrics")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="metrics")
    date = models.DateField()
    spend = models.DecimalField(**MONEY, default=0)
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    conversions = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    conversion_value = models.DecimalField(**MONEY, default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign_id", "date"]
        constraints = [models.UniqueConstraint(fields=["campaign", "date"], name="campaignmetricsday_unique")]
        indexes = [models.Index(fields=["organization", "date"], name="campaignmetrics_org_date")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.date}"


class MarketingCampaign(models.Model):
    """A CRM's marketing campaign (HubSpot's campaigns tool, say): a name and a period that emails, posts and ads
    are grouped under at the CRM. Not a Campaign: it has no ad account, budget, delivery status or spend, and
    the ads analyses must not read it as one. Tied to its integration by its ExternalRef like the rows above;
    `status` is the CRM's word for it, as the CRM says it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="marketing_campaigns")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="marketing_campaigns")
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=40, blank=True, default="")
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True, default="")
    external_created_at = models.DateTimeField(null=True, blank=True)
    external_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["integration", "external_id"],
                                               name="marketingcampaign_unique")]

    def __str__(self) -> str:
        return self.name or self.external_id
