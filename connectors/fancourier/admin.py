"""FAN Courier shipments in the operator console: read-only, scoped to the staff user's organizations.

Declared here, registered by the console (console/admin/connectors.py), which
mixes these options over its organization-scoped admin.
"""

from .models import Shipment


class ShipmentAdmin:
    list_display = ("awb_number", "integration", "order", "status", "status_code", "status_at", "delivered_at",
                    "last_checked_at")
    list_filter = ("status", "is_open")
    search_fields = ("awb_number",)
    readonly_fields = [f.name for f in Shipment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


MODEL_ADMINS = {Shipment: ShipmentAdmin}
