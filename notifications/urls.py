"""Routes of the notifications app."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import NotificationRuleViewSet

router = DefaultRouter(trailing_slash=True)
router.register("notification-rules", NotificationRuleViewSet, basename="notification-rule")

urlpatterns = [path("", include(router.urls))]
