"""The two SHOP-API steps Click calls (it drives the payment; we answer in its format)."""

from django.urls import path

from config.schema import provider_rpc

from .api import complete, prepare

urlpatterns = [
    path("payments/click/<slug:route_key>/prepare/", prepare, name="click-prepare"),
    path("payments/click/<slug:route_key>/complete/", complete, name="click-complete"),
]

OPENAPI_PATHS = {
    "/api/payments/click/{route_key}/prepare/": {
        "post": provider_rpc("Click prepare", "Click's prepare step (form body, MD5 `sign_string`)."),
    },
    "/api/payments/click/{route_key}/complete/": {
        "post": provider_rpc("Click complete", "Click's complete step (form body, MD5 `sign_string`)."),
    },
}
