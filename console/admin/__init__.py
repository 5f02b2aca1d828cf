"""Every ModelAdmin of the console, one module per app whose records it shows (the admin's autodiscovery imports
this package). The provider folders' admins and actions are added last, once the admins they extend exist."""

from . import accounts, commerce, connectors, integrations, schedules, syncjobs, webhooks, webhooks_inbound  # noqa: F401

connectors.register_provider_admins()
