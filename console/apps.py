"""The operator console: the admin site, its dashboard and every ModelAdmin (console/admin/), the top floor.

Two app configs: `SwitchyardAdminConfig` is django.contrib.admin with this
console's site as the default site (so `admin.site` is it), and `ConsoleConfig`
is the console app itself, whose `console.admin` package the admin's
autodiscovery imports. Nothing below the console imports it.
"""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SwitchyardAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "console.site.SwitchyardAdminSite"


class ConsoleConfig(AppConfig):
    default = True
    name = "console"
    verbose_name = "Operator console"
