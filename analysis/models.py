"""Analyses and the suggestions they make: records of what was asked, of whom, what it cost and what came back.

An AnalysisRun is one look at one kind of the organization's figures (campaigns, pricing or stock), by the
model of an AI integration or, without one (or when it fails), by the rule-based analyzer (analysis/rules.py).
Its `inputs_digest` is the SHA-256 of the figures it was given (analysis/inputs.py), so two runs over the same
data are recognisably the same question. A Suggestion is one proposed action on one object; nothing happens
to the object until a person accepts it (analysis/services.py applies it through the owning app's service).
An accepted suggestion is being applied under a lease (`claimed_at`); one whose worker died is recovered, and
applied once (analysis/services.py says how it knows what already happened). A failed or refused run is not
changed afterwards: retrying it makes a new run that names it (`retry_of`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Organization
from ads.models import Campaign
from commerce.models import Product
from integrations.models import Integration


class AnalysisKind(models.TextChoices):
    CAMPAIGNS = "campaigns", "Campaigns"
    PRICING = "pricing", "Pricing"
    STOCK = "stock", "Stock"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    REFUSED = "refused", "Refused (token budget)"


class Trigger(models.TextChoices):
    API = "api", "API"
    CONSOLE = "console", "Console"
    SCHEDULE = "schedule", "Schedule (beat or cron)"
    COMMAND = "command", "manage.py analyze"


class Source(models.TextChoices):
    RULES = "rules", "Rule-based"
    MODEL = "model", "Model"


class AnalysisRun(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="analysis_runs")
    kind = models.CharField(max_length=16, choices=AnalysisKind.choices)
    scope = models.JSONField(default=dict, blank=True,
                             help_text="What was looked at: {} = everything of the kind; e.g. {'ad_account': 12}.")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    source = models.CharField(max_length=8, choices=Source.choices, blank=True, default="",
                              help_text="Who answered: the model, or the rule-based analyzer.")
    integration = models.ForeignKey(Integration, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="analysis_runs", help_text="The AI integration asked, if any.")
    model = models.CharField(max_length=100, blank=True, default="")
    inputs_digest = models.CharField(max_length=64, blank=True, default="")
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cost_estimate = models.DecimalField(max_digits=12, decimal_places=6, default=0,
                                        help_text="USD, from the model's list price per million tokens.")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.API)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_label = models.CharField(max_length=200, blank=True, default="")
    error = models.TextField(blank=True, default="", help_text="Why it failed or was refused.")
    fallback_reason = models.TextField(blank=True, default="",
                                       help_text="Why the rules answered although an AI integration exists.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    retry_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retry",
        help_text="The failed or refused run this one retries. One to one: a failed run is retried once (asking twice "
                  "makes no second run); a retry that fails is retried in its turn.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "created_at"], name="analysisrun_org_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} analysis #{self.pk}"

    @property
    def tokens_used(self) -> int:
        return self.input_tokens + self.output_tokens


class ActionKind(models.TextChoices):
    SET_DAILY_BUDGET = "set_daily_budget", "Set a campaign's daily budget"
    PAUSE_CAMPAIGN = "pause_campaign", "Pause a campaign"
    SET_PRICE = "set_price", "Set a product's price"
    REORDER = "reorder", "Reorder a product"


class SuggestionStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACCEPTED = "accepted", "Accepted (being applied)"
    REJECTED = "rejected", "Rejected"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed to apply"


class Suggestion(models.Model):
    """One proposed action on one campaign or product. `parameters` are the action's exact values (strings for
    money: `{"daily_budget": "30.00", "from": "50.00", "currency": "RON"}`)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="suggestions")
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="suggestions")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=24, choices=ActionKind.choices)
    parameters = models.JSONField(default=dict)
    text = models.CharField(max_length=500, help_text="The action in words.")
    rationale = models.TextField(blank=True, default="")
    confidence = models.DecimalField(max_digits=3, decimal_places=2, help_text="0.00–1.00")
    source = models.CharField(max_length=8, choices=Source.choices)
    status = models.CharField(max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.PROPOSED)
    decided_by_label = models.CharField(max_length=200, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the current attempt to apply it began: an accepted suggestion whose claim is older than the "
                  "lease (analysis.services.APPLY_LEASE) belongs to a worker that died, and is recovered.")
    apply_attempts = models.PositiveSmallIntegerField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status"], name="suggestion_org_status"),
                   models.Index(fields=["claimed_at"], condition=models.Q(status="accepted"),
                                name="suggestion_accepted_claimed")]  # the recovery sweep's
        constraints = [models.CheckConstraint(
            condition=models.Q(campaign__isnull=False) | models.Q(product__isnull=False), name="suggestion_target")]

    def __str__(self) -> str:
        return self.text

    @property
    def target(self):
        return self.campaign or self.product


class PurchaseNeed(models.Model):
    """A product to buy: the flag an accepted reorder suggestion raises for purchasing (this release has no
    purchase orders; purchasing reads these in the console and closes them)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="purchase_needs")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="purchase_needs")
    quantity = models.PositiveIntegerField()
    needed_by = models.DateField(null=True, blank=True)
    suggestion = models.OneToOneField(Suggestion, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="purchase_need")
    is_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["needed_by", "id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product}"


class AnalysisSettings(models.Model):
    """Per organization: how many tokens the model may spend in a calendar month (UTC)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="analysis_settings")
    monthly_token_budget = models.PositiveIntegerField(
        null=True, blank=True, help_text="Input + output tokens per month; empty = AI_MONTHLY_TOKEN_BUDGET.")

    class Meta:
        verbose_name_plural = "analysis settings"

    def __str__(self) -> str:
        return f"Analysis settings of {self.organization}"
