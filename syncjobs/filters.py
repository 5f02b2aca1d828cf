"""Query-string filters of the sync-jobs list; a bad value is VALIDATION_ERROR, never an ignored filter."""

from __future__ import annotations

import django_filters

from config.api import DateTimeFilter, IdFilter

from .models import JobStatus, JobType, SyncJob, Trigger


class SyncJobFilter(django_filters.FilterSet):
    integration = IdFilter(field_name="integration_id", help_text="An integration id.")
    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    job_type = django_filters.ChoiceFilter(choices=JobType.choices)
    trigger = django_filters.ChoiceFilter(choices=Trigger.choices)
    created_after = DateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601; jobs created at or after this time."
    )
    created_before = DateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601; jobs created strictly before this time."
    )

    class Meta:
        model = SyncJob
        fields = ["integration", "status", "job_type", "trigger", "created_after", "created_before"]
