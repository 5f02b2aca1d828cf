from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import IntegrationLogViewSet, IntegrationViewSet, ProviderViewSet

router = DefaultRouter(trailing_slash=True)
router.register("integrations", IntegrationViewSet, basename="integration")
router.register("providers", ProviderViewSet, basename="provider")
router.register("integration-logs", IntegrationLogViewSet, basename="integration-log")

urlpatterns = [
    path("", include(router.urls)),
]
