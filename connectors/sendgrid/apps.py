from django.apps import AppConfig


class SendGridConfig(AppConfig):
    """Its own app only for the suppression list (addresses that bounced, dropped, complained or unsubscribed)."""

    name = "connectors.sendgrid"
    label = "sendgrid"
    verbose_name = "SendGrid"
    default_auto_field = "django.db.models.BigAutoField"
