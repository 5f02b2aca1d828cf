"""Routes of incoming webhooks. Included before the other API routes, so no router pattern shadows a receive URL."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views
from .api import IncomingWebhookViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("webhooks", IncomingWebhookViewSet, basename="incoming-webhook")

urlpatterns = [
    path("webhooks/receive/<slug:route_key>/", views.receive, name="webhook-receive"),
    path("webhooks/shopify/", views.receive_shopify, name="webhook-receive-shopify"),
    path("webhooks/meta/", views.receive_meta, name="webhook-receive-meta"),
    path("", include(router.urls)),
]
