from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import EventIntakeView, EventSourceViewSet, InboundEventViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("event-sources", EventSourceViewSet, basename="event-source")
router.register("inbound-events", InboundEventViewSet, basename="inbound-event")

urlpatterns = [
    path("events/", EventIntakeView.as_view(), name="events-receive"),
    path("", include(router.urls)),
]
