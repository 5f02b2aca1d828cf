"""The merchant API Payme calls (it drives the payment; we answer in its JSON-RPC)."""

from django.urls import path

from config.schema import provider_rpc

from .api import merchant_api

urlpatterns = [
    path("payments/payme/<slug:route_key>/", merchant_api, name="payme-merchant-api"),
]

OPENAPI_PATHS = {
    "/api/payments/payme/{route_key}/": {
        "post": provider_rpc("Payme merchant API",
                             "Payme's JSON-RPC (CheckPerformTransaction, CreateTransaction, PerformTransaction, "
                             "CancelTransaction, CheckTransaction, GetStatement); Basic auth `Paycom:<key>`."),
    },
}
