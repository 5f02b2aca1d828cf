"""Notification rules (editable), their conditions and every notice (read-only), scoped to the staff user's
organizations."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from config.errors import ValidationError
from notifications import delivery
from notifications.models import Condition, Notice, NoticeStatus, NotificationRule, TriggerKind
from notifications.services import RULE_FIELDS, rule_validate

from ..scoping import OrganizationScopedAdmin


class NotificationRuleForm(forms.ModelForm):
    """The API's checks (notifications.services.rule_validate), with the triggers as checkboxes."""

    triggers = forms.MultipleChoiceField(choices=TriggerKind.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = NotificationRule
        fields = ["organization", *RULE_FIELDS]

    def clean(self):
        data = super().clean()
        organization = data.get("organization") or getattr(self.instance, "organization", None)
        if organization is not None and not self.errors:
            try:
                rule_validate(organization, {k: data.get(k) for k in RULE_FIELDS if k in data},
                              self.instance if self.instance.pk else None)
            except ValidationError as exc:
                for field, problems in (exc.details or {}).items():
                    self.add_error(field if field in self.fields else None, problems)
        return data


@admin.register(NotificationRule)
class NotificationRuleAdmin(OrganizationScopedAdmin):
    form = NotificationRuleForm
    list_display = ("name", "organization", "integration", "target", "trigger_list", "digest_minutes",
                    "quiet_hours_start", "quiet_hours_end", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "target")
    actions = ["send_due_now"]

    @admin.display(description="Triggers")
    def trigger_list(self, obj: NotificationRule) -> str:
        return ", ".join(obj.triggers or [])

    @admin.action(description="Send what is due now", permissions=["operate"])
    def send_due_now(self, request, queryset):
        sent = sum(delivery.notices_send_due(rule_id=rule.pk) for rule in queryset)
        self.message_user(request, f"{sent} notice(s) sent.", messages.SUCCESS)


@admin.register(Condition)
class ConditionAdmin(OrganizationScopedAdmin):
    organization_path = "rule__organization"
    list_display = ("key", "trigger", "rule", "opened_at", "last_seen_at", "occurrences", "cleared_at")
    list_filter = ("trigger",)
    search_fields = ("key",)
    readonly_fields = [f.name for f in Condition._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notice)
class NoticeAdmin(OrganizationScopedAdmin):
    list_display = ("created_at", "kind", "status", "title", "rule", "deliver_after", "attempts", "sent_at",
                    "error_short")
    list_filter = ("status", "kind", "trigger")
    search_fields = ("title",)
    readonly_fields = [f.name for f in Notice._meta.fields]

    @admin.display(description="Error / reason")
    def error_short(self, obj: Notice) -> str:
        return (obj.error or obj.deferred_reason)[:120] if obj.status != NoticeStatus.SENT else ""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
