"""The ads admin: ad accounts, campaigns with a 30-day spend chart and spend per day, the daily figures, and a
CRM's marketing campaigns.

Records the syncs write are read-only here (ads.services is the only writer); operators pause or resume
campaigns through an action that calls the same service as the API (the platform first, audited), and start a
campaigns analysis of the selected campaigns (an action) or of all (a button on the list).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import admin, messages
from django.db.models import Q, Sum
from django.utils.html import format_html, format_html_join

from ads.models import AdAccount, AdSet, Campaign, CampaignMetricsDay, MarketingCampaign
from ads.selectors import roas, spend_per_day
from ads.services import campaign_status_set
from analysis.models import AnalysisKind
from config.errors import ApplicationError

from ..charts import daily_bars
from ..scoping import OrganizationScopedAdmin
from .analysis import analyse_all_buttons, analyse_rows

ACTION_LIMIT = 50


class ReadOnlyAdmin(OrganizationScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AdAccount)
class AdAccountAdmin(ReadOnlyAdmin):
    list_display = ("name", "external_id", "integration", "currency", "timezone_name", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name", "external_id")


class AdSetInline(admin.TabularInline):
    model = AdSet
    fields = readonly_fields = ("name", "external_id", "status", "effective_status", "optimization_goal",
                                "daily_budget", "lifetime_budget")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ("name", "status", "effective_status", "daily_budget", "lifetime_budget", "currency",
                    "spend_last_30_days", "ad_account", "integration")
    list_filter = ("status", "integration")
    search_fields = ("name", "external_id")
    readonly_fields = ("spend_chart", "spend_per_day")
    inlines = [AdSetInline]
    actions = ["pause", "resume", "analyse"]
    change_list_template = "admin/switchyard/analyse_change_list.html"

    def changelist_view(self, request, extra_context=None):
        buttons = analyse_all_buttons(self, request, (AnalysisKind.CAMPAIGNS,))
        return super().changelist_view(request, {**(extra_context or {}), "analyse_buttons": buttons})

    def get_queryset(self, request):
        since = date.today() - timedelta(days=29)
        return super().get_queryset(request).select_related("integration", "ad_account").annotate(
            spend_30d=Sum("metrics__spend", filter=Q(metrics__date__gte=since)))

    def _days(self, obj) -> list:
        return spend_per_day(campaign_ids=[obj.pk])[obj.pk]

    @admin.display(description="spend, last 30 days", ordering="spend_30d")
    def spend_last_30_days(self, obj):
        return f"{obj.spend_30d or 0:.2f}"

    @admin.display(description="spend, last 30 days")
    def spend_chart(self, obj):
        days = self._days(obj)
        return daily_bars(title=f"Spend of {obj} over the last 30 days", days=[d for d, _ in days],
                          amounts=[a for _, a in days], unit=obj.currency)

    @admin.display(description="spend per day")
    def spend_per_day(self, obj):
        rows = [(day.isoformat(), f"{amount:.2f}") for day, amount in reversed(self._days(obj)) if amount]
        if not rows:
            return "No spend reported in the last 30 days."
        return format_html("<table><tr><th>day</th><th>spend ({})</th></tr>{}</table>", obj.currency,
                           format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows))

    def _set_status(self, request, queryset, status: str) -> None:
        done, refused = 0, []
        for campaign in queryset.select_related("integration")[:ACTION_LIMIT]:
            try:
                campaign_status_set(campaign=campaign, status=status, request=request, reason="admin action")
                done += 1
            except ApplicationError as exc:  # refused, throttled, inactive: said, and the others go on
                refused.append(f"{campaign}: {exc.message}")
        if done:
            self.message_user(request, f"{done} campaign(s) {status} at their platform.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Pause at the ad platform", permissions=["operate"])
    def pause(self, request, queryset):
        self._set_status(request, queryset, "paused")

    @admin.action(description="Resume at the ad platform", permissions=["operate"])
    def resume(self, request, queryset):
        self._set_status(request, queryset, "active")

    @admin.action(description="Analyse selected campaigns (budgets, pauses)", permissions=["operate"])
    def analyse(self, request, queryset):
        analyse_rows(self, request, queryset, AnalysisKind.CAMPAIGNS)


@admin.register(CampaignMetricsDay)
class CampaignMetricsDayAdmin(ReadOnlyAdmin):
    list_display = ("date", "campaign", "spend", "currency", "impressions", "clicks", "conversions",
                    "conversion_value", "platform_roas")
    list_filter = ("campaign__integration",)
    date_hierarchy = "date"
    search_fields = ("campaign__name",)
    ordering = ("-date", "campaign__name")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campaign")

    @admin.display(description="ROAS (platform)")
    def platform_roas(self, obj):
        value = roas(obj.conversion_value, obj.spend)
        return "—" if value is None else value


@admin.register(MarketingCampaign)
class MarketingCampaignAdmin(ReadOnlyAdmin):
    """What `sync_marketing_campaigns` last wrote (the schedule's row is on the integration's page)."""

    list_display = ("name", "status", "start_date", "end_date", "integration", "external_updated_at", "updated_at")
    list_filter = ("status", "integration")
    search_fields = ("name", "external_id")
    list_select_related = ("integration",)
