"""Sync routes. The integration-scoped ones are explicit paths (the integrations viewset belongs to its app), and so
is auto-fulfil under orders/ (config/urls.py includes these before commerce's, whose router would take it for an id)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import (
    AutoFulfillViewSet,
    IntegrationScheduleViewSet,
    IntegrationSyncViewSet,
    LabelFetchViewSet,
    SyncJobViewSet,
)
from .cron import CronView

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("sync-jobs", SyncJobViewSet, basename="sync-job")

urlpatterns = [
    path(
        "integrations/<str:integration_id>/sync/",
        IntegrationSyncViewSet.as_view({"post": "sync"}),
        name="integration-sync",
    ),
    path(
        "integrations/<str:integration_id>/sync-jobs/",
        IntegrationSyncViewSet.as_view({"get": "sync_jobs"}),
        name="integration-sync-jobs",
    ),
    path(  # the old name of sync-jobs/, kept for existing clients (deprecated in the schema)
        "integrations/<str:integration_id>/sync-logs/",
        IntegrationSyncViewSet.as_view({"get": "sync_logs"}),
        name="integration-sync-logs",
    ),
    path(
        "integrations/<str:integration_id>/schedules/",
        IntegrationScheduleViewSet.as_view({"get": "list"}),
        name="integration-schedules",
    ),
    path(
        "integrations/<str:integration_id>/schedules/<slug:job_type>/",
        IntegrationScheduleViewSet.as_view({"patch": "partial_update"}),
        name="integration-schedule",
    ),
    path("orders/auto-fulfill/", AutoFulfillViewSet.as_view({"post": "auto_fulfill"}), name="order-auto-fulfill"),
    path("orders/labels/fetch/", LabelFetchViewSet.as_view({"post": "fetch_many"}), name="order-labels-fetch"),
    path("orders/<str:order_id>/label/fetch/", LabelFetchViewSet.as_view({"post": "fetch_one"}),
         name="order-label-fetch"),
    path("cron/<slug:job>/", CronView.as_view(), name="cron"),
    path("", include(router.urls)),
]
