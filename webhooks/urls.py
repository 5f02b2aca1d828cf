"""Routes of the webhooks app: register viewsets on the router below (inbound routes go here too)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import WebhookDeliveryViewSet, WebhookEndpointViewSet

router = DefaultRouter(trailing_slash=True)
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = [
    path("", include(router.urls)),
]
