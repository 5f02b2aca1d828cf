"""Admin hooks of connectors that add to other apps' admins (autodiscovery imports this module)."""

from connectors.anaf import admin as anaf_admin  # noqa: F401
