"""The OAuth housekeeping task: expired states go; live ones stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app
from integrations.models import OAuthState
from integrations.tasks import purge_oauth_states


def _state(org, name: str, expires_in: timedelta, used: bool = False) -> OAuthState:
    return OAuthState.objects.create(state=name, provider="sandbox", organization=org,
                                     redirect_uri="https://app.example.com/x",
                                     expires_at=timezone.now() + expires_in, used_at=timezone.now() if used else None)


@pytest.mark.django_db
def test_expired_states_are_purged_and_the_task_is_idempotent(org):
    _state(org, "old", -timedelta(minutes=1))
    _state(org, "old-used", -timedelta(hours=2), used=True)
    _state(org, "live", timedelta(minutes=5))
    _state(org, "live-used", timedelta(minutes=5), used=True)

    assert purge_oauth_states() == 2
    assert purge_oauth_states() == 0
    assert set(OAuthState.objects.values_list("state", flat=True)) == {"live", "live-used"}


def test_the_oauth_tasks_are_registered():
    app.loader.import_default_modules()
    for name in ("refresh_expiring_tokens", "refresh_integration_token", "purge_oauth_states"):
        assert f"integrations.tasks.{name}" in app.tasks
