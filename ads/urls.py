from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import AdAccountViewSet, CampaignViewSet, MarketingCampaignViewSet

router = DefaultRouter(trailing_slash=True)
router.register("ad-accounts", AdAccountViewSet, basename="ad-account")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("marketing-campaigns", MarketingCampaignViewSet, basename="marketing-campaign")

urlpatterns = [path("", include(router.urls))]
