"""The files of an integration's scanned Drive folders, as the last scan saw them, and the image ↔ product link.

A row per file or folder under the integration's `config["folders"]` (Drive ids), with its place in the tree
(`path`: the folder names from the scanned root, `depth`) so the console can show the folders as a tree, and
the links Drive gave (view, download; the thumbnail link is short-lived: fresh as of `seen_at`).

An image whose name carries a product's SKU (`ABC-123.jpg`, `ABC-123_2.jpg`, `ABC-123 front.png`) points at
that product (`product`, `matched_sku`): this is how products get their images until the catalogue has an
image field of its own. It names commerce.Product by string (connectors sit below commerce) and is written
only by scan.py, which asks commerce for the SKUs through the catalogue port (connectors/catalogue.py).
"""

from django.db import models

from accounts.models import Organization
from integrations.models import Integration

FOLDER_MIME = "application/vnd.google-apps.folder"


class DriveFile(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="drive_files")
    file_id = models.CharField(max_length=128, help_text="Drive's file id.")
    name = models.CharField(max_length=500)
    mime_type = models.CharField(max_length=200, blank=True, default="")
    is_folder = models.BooleanField(default=False)
    parent_id = models.CharField(max_length=128, blank=True, default="")
    path = models.CharField(max_length=2000, help_text="Folder names from the scanned root, then its own name.")
    depth = models.PositiveSmallIntegerField(default=0)
    size = models.BigIntegerField(null=True, blank=True)
    modified_at = models.DateTimeField(null=True, blank=True)
    web_view_link = models.URLField(max_length=1000, blank=True, default="")
    web_content_link = models.URLField(max_length=1000, blank=True, default="", help_text="Download link.")
    thumbnail_link = models.URLField(max_length=1000, blank=True, default="",
                                     help_text="Short-lived: valid for a few hours after the scan.")
    product = models.ForeignKey("commerce.Product", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="drive_images",
                                help_text="The product whose SKU the image's name carries.")
    matched_sku = models.CharField(max_length=100, blank=True, default="")
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "file_id"], name="drivefile_integration_file")]
        indexes = [models.Index(fields=["integration", "path"], name="drivefile_tree")]
        ordering = ["integration", "path"]

    def __str__(self) -> str:
        return self.path or self.name
