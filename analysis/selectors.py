"""Reads of analyses and suggestions, always the tenant's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from accounts.models import Organization
from config.errors import NotFound

from .models import AnalysisRun, Suggestion


class AnalysisNotFound(NotFound):
    code = "ANALYSIS_NOT_FOUND"
    default_message = "Analysis not found."


class SuggestionNotFound(NotFound):
    code = "SUGGESTION_NOT_FOUND"
    default_message = "Suggestion not found."


def run_list(*, organization: Organization) -> QuerySet[AnalysisRun]:
    return AnalysisRun.objects.filter(organization=organization).select_related("integration", "retry")


def run_get(*, organization: Organization, run_id: Any) -> AnalysisRun:
    run = run_list(organization=organization).filter(pk=run_id).first() if str(run_id).isdigit() else None
    if run is None:
        raise AnalysisNotFound(details={"id": str(run_id)})
    return run


def suggestion_list(*, organization: Organization) -> QuerySet[Suggestion]:
    return Suggestion.objects.filter(organization=organization).select_related("campaign", "product")


def suggestion_get(*, organization: Organization, suggestion_id: Any) -> Suggestion:
    found = suggestion_list(organization=organization).filter(pk=suggestion_id).first() if str(
        suggestion_id).isdigit() else None
    if found is None:
        raise SuggestionNotFound(details={"id": str(suggestion_id)})
    return found
