"""The operator console's URLs (mounted at /admin/ by config/urls.py).

`admin.site` is the console's SwitchyardAdminSite (console.apps.SwitchyardAdminConfig
makes it the default site), with every ModelAdmin of console/admin/ registered on it.
"""

from django.contrib import admin

urlpatterns, app_name, _namespace = admin.site.urls
