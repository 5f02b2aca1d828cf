"""The routes a Zapier app calls (DRF views: they are in the OpenAPI schema like the rest of the API)."""

from django.urls import path

from .api import ZapierHooksView, ZapierHookView, ZapierMeView, ZapierSampleView

urlpatterns = [
    path("zapier/me/", ZapierMeView.as_view(), name="zapier-me"),
    path("zapier/hooks/", ZapierHooksView.as_view(), name="zapier-hooks"),
    path("zapier/hooks/<int:hook_id>/", ZapierHookView.as_view(), name="zapier-hook"),
    path("zapier/samples/<str:event_type>/", ZapierSampleView.as_view(), name="zapier-sample"),
]
