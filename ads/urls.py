from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import AdAccountViewSet, CampaignViewSet

router = DefaultRouter(trailing_slash=True)
router.register("ad-accounts", AdAccountViewSet, basename="ad-account")
router.register("campaigns", CampaignViewSet, basename="campaign")

urlpatterns = [path("", include(router.urls))]
