"""The analyses admin: runs and their suggestions (accept / reject actions that call analysis.services, as the
API does), purchase needs, and each organization's token budget. The dashboard's "Run analysis" button posts to
the run list's `start/` view."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.models import Organization, Role
from accounts.staff_scope import organization_ids_with_role
from analysis import services
from analysis.models import AnalysisKind, AnalysisRun, AnalysisSettings, PurchaseNeed, Suggestion, Trigger
from config.errors import ApplicationError

from ..scoping import OrganizationScopedAdmin

ACTION_LIMIT = 50


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
            try:
                run = services.analysis_start(organization=organization, kind=kind, trigger=Trigger.CONSOLE,
                                              request=request)
                self.message_user(request, f"{run} queued for {organization}.", messages.SUCCESS)
            except ApplicationError as exc:
                self.message_user(request, f"{organization}: {exc.message}", messages.ERROR)
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

    def _decide(self, request, queryset, decide, verb: str) -> None:
        done, failed = 0, []
        for suggestion in queryset.filter(status="proposed")[:ACTION_LIMIT]:
            try:
                decide(suggestion=suggestion, request=request)
                done += 1
            except ApplicationError as exc:
                failed.append(f"{suggestion}: {exc.message}")
        if done:
            self.message_user(request, f"{done} suggestion(s) {verb}.", messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Accept and apply selected suggestions", permissions=["operate"])
    def accept(self, request, queryset):
        self._decide(request, queryset, services.suggestion_accept, "applied")

    @admin.action(description="Reject selected suggestions", permissions=["operate"])
    def reject(self, request, queryset):
        self._decide(request, queryset, services.suggestion_reject, "rejected")


@admin.register(PurchaseNeed)
class PurchaseNeedAdmin(OrganizationScopedAdmin):
    list_display = ("product", "quantity", "needed_by", "is_open", "suggestion", "created_at")
    list_filter = ("is_open",)
    fields = ("product", "quantity", "needed_by", "is_open")
    readonly_fields = ("product", "quantity", "needed_by")


@admin.register(AnalysisSettings)
class AnalysisSettingsAdmin(OrganizationScopedAdmin):
    list_display = ("organization", "monthly_token_budget")
