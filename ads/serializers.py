"""The ads API's shapes: money as strings with two decimals, the account's currency beside it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rest_framework import serializers

from config.api import StrictCharField, StrictInputSerializer

from .models import AdAccount, Campaign, MarketingCampaign
from .services.changes import SETTABLE_STATUSES

MONEY = {"max_digits": 14, "decimal_places": 2, "coerce_to_string": True}
MAX_METRICS_DAYS = 366


class AdAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdAccount
        fields = ["id", "integration", "external_id", "name", "currency", "timezone_name", "is_active",
                  "updated_at"]


class AdAccountRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdAccount
        fields = ["id", "external_id", "name"]


class CampaignSerializer(serializers.ModelSerializer):
    ad_account = AdAccountRefSerializer(read_only=True)
    daily_budget = serializers.DecimalField(**MONEY, allow_null=True)
    lifetime_budget = serializers.DecimalField(**MONEY, allow_null=True)

    class Meta:
        model = Campaign
        fields = ["id", "integration", "ad_account", "external_id", "name", "status", "effective_status",
                  "objective", "daily_budget", "lifetime_budget", "currency", "external_updated_at", "updated_at"]


class MarketingCampaignSerializer(serializers.ModelSerializer):
    integration_code = serializers.CharField(source="integration.code", read_only=True)

    class Meta:
        model = MarketingCampaign
        fields = ["id", "integration", "integration_code", "external_id", "name", "status", "start_date", "end_date",
                  "notes", "external_created_at", "external_updated_at", "updated_at"]


class MarketingCampaignCreateSerializer(StrictInputSerializer):
    """A campaign to create at the CRM of `integration` (an integration id); dates are the CRM's days."""

    integration = serializers.IntegerField(min_value=1, max_value=2**63 - 1,
                                           help_text="The id of a CRM integration that keeps marketing campaigns.")
    name = StrictCharField(max_length=300)
    start_date = serializers.DateField(required=False, allow_null=True, default=None)
    end_date = serializers.DateField(required=False, allow_null=True, default=None)
    notes = StrictCharField(required=False, allow_blank=True, default="", max_length=5000)


class CampaignChangeSerializer(StrictInputSerializer):
    """One change per request: `status` (active|paused), or `daily_budget`, or `lifetime_budget`; `reason` is kept
    in the audit trail."""

    status = serializers.ChoiceField(choices=list(SETTABLE_STATUSES), required=False)
    daily_budget = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    lifetime_budget = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    reason = StrictCharField(required=False, max_length=300, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        changes = [k for k in ("status", "daily_budget", "lifetime_budget") if k in attrs]
        if len(changes) != 1:
            raise serializers.ValidationError(
                {"status": ["Give exactly one of status, daily_budget or lifetime_budget."]})
        return attrs


class MetricsQuerySerializer(StrictInputSerializer):
    """`from`/`to` (YYYY-MM-DD, inclusive); default the last 30 days; at most 366 days."""

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)  # a Python keyword: declared here
        fields["to"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        last = attrs.get("to") or date.today()
        first = attrs.get("from") or last - timedelta(days=29)
        if first > last:
            raise serializers.ValidationError({"from": ["`from` must not be after `to`."]})
        if (last - first).days + 1 > MAX_METRICS_DAYS:
            raise serializers.ValidationError({"from": [f"At most {MAX_METRICS_DAYS} days at a time."]})
        return {"first": first, "last": last}


class MetricsDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    spend = serializers.DecimalField(**MONEY)
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    conversions = serializers.DecimalField(**MONEY)
    conversion_value = serializers.DecimalField(**MONEY)
    roas = serializers.DecimalField(**MONEY, allow_null=True, help_text="conversion_value ÷ spend (the platform's "
                                    "attribution); null without spend.")


class MetricsTotalsSerializer(MetricsDaySerializer):
    date = None


class CampaignMetricsSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    currency = serializers.CharField()
    to = serializers.DateField()
    days = MetricsDaySerializer(many=True)
    totals = MetricsTotalsSerializer()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField()  # a Python keyword: declared here
        return fields
