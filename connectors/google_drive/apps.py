from django.apps import AppConfig


class GoogleDriveConfig(AppConfig):
    """Its own app only for the DriveFile table (the scanned folders' files, images linked to products) and
    the scan's beat schedule."""

    name = "connectors.google_drive"
    label = "google_drive"
    verbose_name = "Google Drive"
    default_auto_field = "django.db.models.BigAutoField"
