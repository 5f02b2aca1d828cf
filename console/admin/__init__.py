"""Every ModelAdmin of the console, one module per app whose records it shows (the admin's autodiscovery imports
this package). The provider folders' admins and actions are added last, once the admins they extend exist."""

from . import (  # noqa: F401
    accounts,
    ads,
    analysis,
    commerce,
    connectors,
    events,
    integrations,
    notifications,
    schedules,
    social,
    syncjobs,
    webhooks,
    webhooks_inbound,
)

connectors.register_provider_admins()
