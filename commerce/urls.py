from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import (
    ChannelLocationViewSet,
    FulfillmentAnalyticsView,
    InventoryViewSet,
    OrderViewSet,
    ProductViewSet,
    ReturnViewSet,
    StockDriftView,
    StockModeView,
)

router = DefaultRouter(trailing_slash=True)
router.register("products", ProductViewSet, basename="product")
router.register("inventory", InventoryViewSet, basename="inventory")
router.register("orders", OrderViewSet, basename="order")
router.register("channel-locations", ChannelLocationViewSet, basename="channel-location")
router.register("returns", ReturnViewSet, basename="return")

urlpatterns = [
    path("fulfillment/analytics/", FulfillmentAnalyticsView.as_view(), name="fulfillment-analytics"),
    path("integrations/<str:pk>/stock-mode/", StockModeView.as_view(), name="integration-stock-mode"),
    path("stock-drift/", StockDriftView.as_view(), name="stock-drift"),
    path("", include(router.urls)),
]
