"""Query-string filters of the ads API; a malformed value is a VALIDATION_ERROR, never silently ignored."""

from __future__ import annotations

import django_filters

from config.api import IdFilter

from .models import AdAccount, Campaign, DeliveryStatus, MarketingCampaign


class AdAccountFilter(django_filters.FilterSet):
    integration = IdFilter(field_name="integration_id", help_text="An integration's id.")

    class Meta:
        model = AdAccount
        fields = ["integration"]


class CampaignFilter(django_filters.FilterSet):
    integration = IdFilter(field_name="integration_id", help_text="An integration's id.")
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    ad_account = IdFilter(field_name="ad_account_id", help_text="An ad account's id.")

    class Meta:
        model = Campaign
        fields = ["integration", "status", "ad_account"]


class MarketingCampaignFilter(django_filters.FilterSet):
    integration = IdFilter(field_name="integration_id", help_text="An integration's id.")

    class Meta:
        model = MarketingCampaign
        fields = ["integration"]
