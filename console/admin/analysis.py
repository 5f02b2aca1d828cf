"""The analyses admin: runs (retry a failed one) and their suggestions (accept / reject actions that call
analysis.decisions, as the API does), purchase needs, and each organization's token budget.

Analyses start from three places, all through analysis.services.analysis_start, as the API's POST does: the
dashboard's "Run analysis" button and the "Analyse all" buttons of the campaign and product lists post to the
run list's `start/` view (everything of the kind, per organization the user operates); the campaign and
product lists' actions (`analyse_rows`) analyse the selected rows only. Each says which run it queued, linked."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.models import Organization, Role
from accounts.staff_scope import organization_ids_with_role
from analysis import decisions, services
from analysis.models import (
    AnalysisKind,
    AnalysisRun,
    AnalysisSettings,
    PurchaseNeed,
    RunStatus,
    Suggestion,
    SuggestionStatus,
    Trigger,
)
from analysis.serializers import SCOPE_LIMIT
from config.errors import ApplicationError

from ..scoping import OrganizationScopedAdmin

ACTION_LIMIT = 50


def queued_message(modeladmin, request: HttpRequest, run: AnalysisRun, what: str) -> None:
    url = reverse("admin:analysis_analysisrun_change", args=[run.pk])
    modeladmin.message_user(request, format_html('<a href="{}">{}</a> queued for {}: {}.', url, run,
                                                 run.organization, what), messages.SUCCESS)


def start_analysis(modeladmin, request: HttpRequest, *, organization: Organization, kind: str,
                   scope: dict[str, Any], what: str) -> AnalysisRun | None:
    """analysis_start as the API calls it, its outcome said on the page (a refusal in red, not a 500)."""
    try:
        run = services.analysis_start(organization=organization, kind=kind, scope=scope, trigger=Trigger.CONSOLE,
                                      request=request)
    except ApplicationError as exc:
        modeladmin.message_user(request, f"{organization}: {exc.message}", messages.ERROR)
        return None
    queued_message(modeladmin, request, run, what)
    return run


def analyse_rows(modeladmin, request: HttpRequest, queryset: QuerySet, kind: str) -> None:
    """One run of `kind` per organization of the selected campaigns or products, scoped to those rows (campaigns by
    id, products by SKU; analysis/inputs.py then looks at the active ones among them)."""
    on_campaigns = kind == AnalysisKind.CAMPAIGNS
    key, column = ("campaigns", "pk") if on_campaigns else ("skus", "sku")
    noun = "campaign(s)" if on_campaigns else "product(s)"
    organization_ids = sorted(set(queryset.values_list("organization_id", flat=True)))
    for organization in Organization.objects.filter(pk__in=organization_ids[:ACTION_LIMIT]).order_by("id"):
        picked = sorted(queryset.filter(organization=organization).values_list(column, flat=True)[:SCOPE_LIMIT + 1])
        if len(picked) > SCOPE_LIMIT:
            modeladmin.message_user(request, f"{organization}: more than {SCOPE_LIMIT} {noun} selected; select "
                                             f"fewer, or use the list's \"Analyse all\" button.", messages.ERROR)
            continue
        start_analysis(modeladmin, request, organization=organization, kind=kind, scope={key: picked},
                       what=f"{kind} of {len(picked)} selected {noun}")


def analyse_all_buttons(modeladmin, request: HttpRequest, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """The (kind, label) buttons a change list offers when the user may start analyses."""
    if not modeladmin.has_operate_permission(request):
        return []
    return [(kind, f"Analyse all: {AnalysisKind(kind).label.lower()}") for kind in kinds]


class SuggestionInline(admin.TabularInline):
    model = Suggestion
    fields = readonly_fields = ("text", "action", "parameters", "confidence", "source", "status", "rationale")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AnalysisRun)
class AnalysisRunAdmin(OrganizationScopedAdmin):
    list_display = ("__str__", "organization", "status", "source", "model", "tokens_used", "cost_estimate",
                    "trigger", "created_at")
    list_filter = ("kind", "status", "source", "trigger")
    readonly_fields = [f.name for f in AnalysisRun._meta.fields]
    inlines = [SuggestionInline]
    actions = ["retry"]
    object_actions = ("retry",)
    object_action_labels = {"retry": "Retry this analysis"}

    def object_action_applies(self, name: str, obj: AnalysisRun) -> bool:
        return obj.status in (RunStatus.FAILED, RunStatus.REFUSED) and not AnalysisRun.objects.filter(
            retry_of=obj).exists()

    @admin.action(description="Retry selected failed or refused analyses", permissions=["operate"])
    def retry(self, request, queryset):
        for run in queryset.select_related("organization").order_by("id")[:ACTION_LIMIT]:
            try:
                new = services.analysis_retry(run=run, trigger=Trigger.CONSOLE, request=request)
            except ApplicationError as exc:
                self.message_user(request, f"{run}: {exc.message}", messages.ERROR)
                continue
            queued_message(self, request, new, f"the retry of {run}")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [path("start/", self.admin_site.admin_view(require_POST(self.start_view)),
                     name="analysis_analysisrun_start")] + super().get_urls()

    def start_view(self, request: HttpRequest) -> HttpResponseRedirect:
        """Start an analysis of the posted kind for every organization the user operates (queued; a worker runs it)."""
        if not self.has_operate_permission(request):
            raise PermissionDenied
        kind = request.POST.get("kind", "")
        if kind not in AnalysisKind.values:
            self.message_user(request, "Choose campaigns, pricing or stock.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:index"))
        ids = organization_ids_with_role(request, Role.OPERATOR)
        organizations = Organization.objects.all() if ids is None else Organization.objects.filter(pk__in=ids)
        for organization in organizations.order_by("id")[:ACTION_LIMIT]:
            start_analysis(self, request, organization=organization, kind=kind, scope={}, what=f"all its {kind}")
        return HttpResponseRedirect(reverse("admin:analysis_analysisrun_changelist"))


@admin.register(Suggestion)
class SuggestionAdmin(OrganizationScopedAdmin):
    list_display = ("text", "status", "source", "confidence", "action", "run", "created_at")
    list_filter = ("status", "action", "source")
    search_fields = ("text",)
    readonly_fields = [f.name for f in Suggestion._meta.fields]
    actions = ["accept", "reject"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("run")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _decide(self, request, queryset, decide, verb: str, statuses: tuple[str, ...]) -> None:
        done, failed = 0, []
        for suggestion in queryset.filter(status__in=statuses)[:ACTION_LIMIT]:
            try:
                decided = decide(suggestion=suggestion, request=request)
            except ApplicationError as exc:
                failed.append(f"{suggestion}: {exc.message}")
                continue
            if decided.status == SuggestionStatus.ACCEPTED:  # the platform failed for now; the sweep retries
                failed.append(f"{suggestion}: accepted, not applied yet — {decided.error}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} suggestion(s) {verb}.", messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Accept and apply selected suggestions", permissions=["operate"])
    def accept(self, request, queryset):
        # an accepted one whose apply was interrupted is finished (decisions.suggestion_accept takes it over)
        self._decide(request, queryset, decisions.suggestion_accept, "applied",
                     (SuggestionStatus.PROPOSED, SuggestionStatus.ACCEPTED))

    @admin.action(description="Reject selected suggestions", permissions=["operate"])
    def reject(self, request, queryset):
        self._decide(request, queryset, decisions.suggestion_reject, "rejected", (SuggestionStatus.PROPOSED,))


@admin.register(PurchaseNeed)
class PurchaseNeedAdmin(OrganizationScopedAdmin):
    list_display = ("product", "quantity", "needed_by", "is_open", "suggestion", "created_at")
    list_filter = ("is_open",)
    fields = ("product", "quantity", "needed_by", "is_open")
    readonly_fields = ("product", "quantity", "needed_by")

    def has_add_permission(self, request):
        return False  # a purchase need is what an accepted stock suggestion records


@admin.register(AnalysisSettings)
class AnalysisSettingsAdmin(OrganizationScopedAdmin):
    list_display = ("organization", "monthly_token_budget")
