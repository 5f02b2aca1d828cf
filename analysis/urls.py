from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import AnalysisViewSet, SuggestionViewSet

router = DefaultRouter(trailing_slash=True)
router.register("analyses", AnalysisViewSet, basename="analysis")
router.register("suggestions", SuggestionViewSet, basename="suggestion")

urlpatterns = [path("", include(router.urls))]
