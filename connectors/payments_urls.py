"""Endpoints payment gateways call (they drive the payment; we answer): Payme's JSON-RPC, Click's two steps."""

from django.urls import path

from connectors.click import api as click_api
from connectors.payme import api as payme_api

urlpatterns = [
    path("payments/payme/<slug:route_key>/", payme_api.merchant_api, name="payme-merchant-api"),
    path("payments/click/<slug:route_key>/prepare/", click_api.prepare, name="click-prepare"),
    path("payments/click/<slug:route_key>/complete/", click_api.complete, name="click-complete"),
]
