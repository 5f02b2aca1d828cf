"""The routes providers call that belong to one provider (a payment gateway's callbacks, a lookup): derived.

Every registered connector's `urls_module` is included here, under /api/ (config/urls.py includes this module);
adding a provider with routes adds none here.
"""

from django.urls import include, path

from . import registry

urlpatterns = [path("", include(module)) for module in registry.urls_modules()]
