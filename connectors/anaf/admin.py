"""An admin action on organizations: check each one's VAT registration at ANAF.

The organization's CUI is its ANAF integration's `config["cui"]` (the
Organization model has no tax id field). The answer is shown as a message and
kept on that integration's `metadata["vat_registration"]`, so the last check
and its date can be read on the integration's page. Declared here and added to
the Organization admin by the console (console/admin/connectors.py), so neither
the accounts app nor the console names ANAF.
"""

from __future__ import annotations

from django.contrib import admin, messages

from accounts.models import Organization
from config.errors import ApplicationError
from integrations.metadata import integration_metadata_write

from .services import anaf_integration_for, vat_lookup


@admin.action(description="Check VAT registration at ANAF", permissions=["operate"])
def check_vat_registration(modeladmin, request, queryset) -> None:
    for organization in queryset:
        try:
            integration = anaf_integration_for(organization)
            cui = str((integration.config or {}).get("cui") or "")
            if not cui:
                raise ApplicationError(f"Its ANAF integration {integration.code} has no config.cui.")
            result = vat_lookup(integration=integration, cuis=[cui])[cui]
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{organization}: {exc.message}", messages.ERROR)
            continue
        integration_metadata_write(integration, values={"vat_registration": result})
        if not result["found"]:
            modeladmin.message_user(request, f"{organization}: ANAF does not know {result['cui']}.", messages.WARNING)
            continue
        vat = "VAT payer" if result["vat_payer"] else "not a VAT payer"
        inactive = ", inactive" if result["inactive"] else ""
        modeladmin.message_user(request, f"{organization}: {result['cui']} {result['name']} — {vat}{inactive} "
                                         f"(checked {result['checked_on']}).", messages.SUCCESS)


MODEL_ACTIONS = {Organization: [check_vat_registration]}
