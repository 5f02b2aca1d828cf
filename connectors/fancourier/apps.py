from django.apps import AppConfig


class FanCourierConfig(AppConfig):
    """Its own app only for the Shipment table (AWBs and their delivery state) and its beat schedule."""

    name = "connectors.fancourier"
    label = "fancourier"
    verbose_name = "FAN Courier"
    default_auto_field = "django.db.models.BigAutoField"
