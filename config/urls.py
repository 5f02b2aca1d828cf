from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import errors, health

# Under /api/ every error is the JSON envelope (config/errors.py); elsewhere Django's pages.
handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/"), name="home"),  # a person opening the host lands in the console
    path("favicon.ico", lambda request: HttpResponseRedirect(static("switchyard/favicon.svg"))),  # per request:
    # production's static URLs come from collectstatic's manifest, which does not exist when this module loads
    path("health/", health.health, name="health"),
    path("ready/", health.ready, name="ready"),
    path("", include("observability.urls")),  # GET /metrics (Prometheus)
    path("admin/", include("console.urls")),  # the operator console (its admin site)
    path("auth/", include("social_django.urls", namespace="social")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("webhooks.inbound.urls")),
    path("api/", include("connectors.urls")),  # each registered provider's own routes (its urls_module)
    path("api/", include("syncjobs.urls")),
    path("api/", include("integrations.oauth.urls")),
    path("api/", include("integrations.urls")),
    path("api/", include("webhooks.urls")),
    path("api/", include("commerce.urls")),
    path("api/", include("ads.urls")),
    path("api/", include("social.urls")),
    path("api/", include("analysis.urls")),
    path("api/", include("notifications.urls")),
    path("api/", include("events.urls")),
    re_path(r"^api/", errors.api_route_not_found),  # last: any other /api/ URL is the envelope 404, DEBUG or not
]
