"""Drive files in the operator console: the scanned folders as a tree, images and the products they show.

Read-only (a scan writes them). Rows are ordered by their path, so each folder is followed by what it holds,
indented by depth. Declared here and registered by the console (console/admin/connectors.py), scoped to the
staff user's organizations.
"""

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from .models import DriveFile


class DriveFileAdmin:
    list_display = ("tree", "integration", "mime_type", "product", "links", "modified_at", "seen_at")
    list_filter = ("is_folder", "integration")
    search_fields = ("name", "path", "matched_sku", "file_id")
    ordering = ("integration", "path")
    list_select_related = ("integration", "product")
    readonly_fields = [f.name for f in DriveFile._meta.fields]

    @admin.display(description="Folder tree", ordering="path")
    def tree(self, obj: DriveFile) -> str:
        mark = "📁" if obj.is_folder else ("🖼" if obj.mime_type.startswith("image/") else "📄")
        return format_html('<span style="padding-left:{}em" title="{}">{} {}</span>', obj.depth * 1.5, obj.path,
                           mark, obj.name)

    @admin.display(description="Links")
    def links(self, obj: DriveFile) -> str:
        pairs = [(url, label) for url, label in ((obj.web_view_link, "open"), (obj.web_content_link, "download"),
                                                 (obj.thumbnail_link, "thumbnail")) if url]
        return format_html_join(" · ", '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', pairs)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


MODEL_ADMINS = {DriveFile: DriveFileAdmin}
