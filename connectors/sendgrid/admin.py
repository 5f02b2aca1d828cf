"""SendGrid's suppression list in the console: read-only (it comes from the signed Event Webhook); deleting a row
lets the address receive notices again."""

from .models import EmailSuppression


class EmailSuppressionAdmin:
    list_display = ("email", "event", "integration", "occurred_at", "reason")
    list_filter = ("event",)
    search_fields = ("email",)
    readonly_fields = [f.name for f in EmailSuppression._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


MODEL_ADMINS = {EmailSuppression: EmailSuppressionAdmin}
