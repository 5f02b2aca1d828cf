"""Routes of incoming webhooks. Included before the other API routes, so no router pattern shadows a receive URL.

Every address goes to the one receive view: an integration's own, and one per app-level route of the registered
schemes (routes.py), named `webhook-receive-<route>`.
"""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views
from .api import IncomingWebhookViewSet
from .routes import app_routes

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("webhooks", IncomingWebhookViewSet, basename="incoming-webhook")

urlpatterns = [
    path("webhooks/receive/<slug:route_key>/", views.receive, name="webhook-receive"),
    *(path(f"webhooks/{name}/", views.receive, {"app_route": name}, name=f"webhook-receive-{name}")
      for name in sorted(app_routes())),
    path("", include(router.urls)),
]
