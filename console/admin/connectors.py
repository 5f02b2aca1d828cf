"""What provider folders add to the console, found through the connector registry.

A provider whose folder has an `admin.py` (connectors/<provider>/admin.py) may
declare, without importing the console:

- `MODEL_ADMINS = {Model: Options}`: its own tables (FAN Courier's shipments).
  `Options` is a plain class of ModelAdmin options and methods; the console
  registers `Options` mixed over its organization-scoped admin (console/scoping.py),
  so the rows are scoped to the staff user's organizations like every other table.
- `MODEL_ACTIONS = {Model: [action, …]}`: admin actions it adds to another app's
  admin (ANAF's VAT check on organizations). An action takes
  `(modeladmin, request, queryset)` as Django's do.

Nothing here names a provider: adding one touches its folder and the registry line.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from django.contrib import admin

from connectors import registry

from ..scoping import OrganizationScopedAdmin


def provider_admin_modules() -> list[ModuleType]:
    """The `admin` modules of the registered providers' folders that have one, in registry order."""
    packages = dict.fromkeys(cls.__module__.rpartition(".")[0] for cls in registry.providers().values())
    found = []
    for package in packages:
        name = f"{package}.admin"
        if package and importlib.util.find_spec(name) is not None:
            found.append(importlib.import_module(name))
    return found


def register_provider_admins(site: admin.AdminSite | None = None) -> None:
    """Register every provider's MODEL_ADMINS and add its MODEL_ACTIONS (each once, whatever the import order)."""
    site = site or admin.site
    for module in provider_admin_modules():
        for model, options in getattr(module, "MODEL_ADMINS", {}).items():
            if not site.is_registered(model):
                site.register(model, type(options.__name__, (options, OrganizationScopedAdmin), {
                    "__module__": options.__module__, "__doc__": options.__doc__}))
        for model, actions in getattr(module, "MODEL_ACTIONS", {}).items():
            model_admin = site._registry.get(model)
            if model_admin is None:
                continue
            present = list(model_admin.actions or [])
            model_admin.actions = [*present, *(action for action in actions if action not in present)]
