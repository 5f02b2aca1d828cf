"""OAuth routes, included under /api/ before the integrations router (explicit paths, no router)."""

from django.urls import path

from .api import IntegrationDisconnectView, IntegrationRefreshView, OAuthCallbackView, OAuthInitiateView
from .redirects import CALLBACK_URL_NAME

urlpatterns = [
    path("integrations/oauth/initiate/", OAuthInitiateView.as_view(), name="oauth-initiate"),
    path("integrations/oauth/callback/<str:provider>/", OAuthCallbackView.as_view(), name=CALLBACK_URL_NAME),
    path("integrations/<str:pk>/refresh/", IntegrationRefreshView.as_view(), name="integration-refresh"),
    path("integrations/<str:pk>/disconnect/", IntegrationDisconnectView.as_view(), name="integration-disconnect"),
]
