from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import FulfillmentAnalyticsView, InventoryViewSet, OrderViewSet, ProductViewSet

router = DefaultRouter(trailing_slash=True)
router.register("products", ProductViewSet, basename="product")
router.register("inventory", InventoryViewSet, basename="inventory")
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [
    path("fulfillment/analytics/", FulfillmentAnalyticsView.as_view(), name="fulfillment-analytics"),
    path("", include(router.urls)),
]
