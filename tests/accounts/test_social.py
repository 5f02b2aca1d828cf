"""Staff sign-in: the Google allowlist, the login page's Google link, and the idle session timeout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from social_core.exceptions import AuthPolicyError
from social_django.utils import load_backend, load_strategy

from accounts.social import email_allowed, make_staff, require_allowed_email
from tests.factories import UserFactory

GOOGLE_TOKEN_URL = "https://accounts.google.com/o/oauth2/token"
GOOGLE_USERINFO_URL = "https://www.googleapis.com/oauth2/v3/userinfo"


@pytest.fixture
def backend(rf):
    request = rf.get("/")
    request.session = {}
    return load_backend(load_strategy(request), "google-oauth2", redirect_uri="/auth/complete/google-oauth2/")


@override_settings(ALLOWED_EMAILS=["Ops@Example.com"], ALLOWED_EMAIL_DOMAINS=[])
def test_listed_email_passes_case_insensitively(backend):
    assert require_allowed_email(backend, {"email": "ops@example.com"}) is None
    assert email_allowed(" OPS@example.COM ")


@override_settings(ALLOWED_EMAILS=["ops@example.com"], ALLOWED_EMAIL_DOMAINS=[])
def test_unlisted_email_is_refused(backend):
    with pytest.raises(AuthPolicyError):
        require_allowed_email(backend, {"email": "intruder@example.com"})


@override_settings(ALLOWED_EMAILS=[], ALLOWED_EMAIL_DOMAINS=["switchyard.test", "@corp.test"])
def test_domain_allowlist(backend):
    require_allowed_email(backend, {"email": "anyone@switchyard.test"})
    require_allowed_email(backend, {"email": "boss@corp.test"})
    for refused in ("someone@evil-switchyard.test", "x@switchyard.test.evil.com", "switchyard.test", ""):
        with pytest.raises(AuthPolicyError):
            require_allowed_email(backend, {"email": refused})


@override_settings(ALLOWED_EMAILS=[], ALLOWED_EMAIL_DOMAINS=[])
def test_both_lists_empty_lets_nobody_in(backend):
    with pytest.raises(AuthPolicyError):
        require_allowed_email(backend, {"email": "admin@example.com"})


@override_settings(ALLOWED_EMAILS=["ops@example.com"])
def test_unverified_google_address_is_refused(backend):
    with pytest.raises(AuthPolicyError):
        require_allowed_email(backend, {"email": "ops@example.com"}, response={"email_verified": False})


@pytest.mark.django_db
def test_make_staff():
    user = UserFactory(is_staff=False)
    make_staff(user=user)
    user.refresh_from_db()
    assert user.is_staff


def _google_round_trip(client: Client, email: str):
    """Begin the Google flow, then come back to the callback with Google's answers mocked (no network)."""
    begin = client.post(reverse("social:begin", args=["google-oauth2"]))
    assert begin.status_code == 302
    state = parse_qs(urlsplit(begin["Location"]).query)["state"][0]
    with responses.RequestsMock() as mocked:
        mocked.add(responses.POST, GOOGLE_TOKEN_URL,
                   json={"access_token": "ya29.fake", "token_type": "Bearer", "expires_in": 3600})
        mocked.add(responses.GET, GOOGLE_USERINFO_URL,
                   json={"sub": "1234567890", "email": email, "email_verified": True, "name": "Ops Person"})
        return client.get(reverse("social:complete", args=["google-oauth2"]), {"state": state, "code": "auth-code"})


@pytest.mark.django_db
@override_settings(SOCIAL_AUTH_GOOGLE_OAUTH2_KEY="client-id", SOCIAL_AUTH_GOOGLE_OAUTH2_SECRET="client-secret",
                   ALLOWED_EMAILS=[], ALLOWED_EMAIL_DOMAINS=["switchyard.test"], SOCIAL_AUTH_RAISE_EXCEPTIONS=False)
def test_google_sign_in_end_to_end_allowed_user_becomes_staff():
    client = Client()
    response = _google_round_trip(client, "ops@switchyard.test")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    user = get_user_model().objects.get(email="ops@switchyard.test")
    assert user.is_staff and not user.is_superuser
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
@override_settings(SOCIAL_AUTH_GOOGLE_OAUTH2_KEY="client-id", SOCIAL_AUTH_GOOGLE_OAUTH2_SECRET="client-secret",
                   ALLOWED_EMAILS=[], ALLOWED_EMAIL_DOMAINS=["switchyard.test"], SOCIAL_AUTH_RAISE_EXCEPTIONS=False)
def test_google_sign_in_end_to_end_refused_user_is_sent_back_to_login():
    client = Client()
    response = _google_round_trip(client, "stranger@elsewhere.test")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?google=denied")
    assert not get_user_model().objects.filter(email="stranger@elsewhere.test").exists()
    page = client.get(response["Location"]).content.decode()
    assert "Google sign-in was refused" in page


@pytest.mark.django_db
def test_login_page_offers_google_only_when_configured(client):
    with override_settings(SOCIAL_AUTH_GOOGLE_OAUTH2_KEY=""):
        assert "Sign in with Google" not in client.get("/admin/login/").content.decode()
    with override_settings(SOCIAL_AUTH_GOOGLE_OAUTH2_KEY="client-id"):
        body = client.get("/admin/login/?next=/admin/integrations/").content.decode()
    assert "Sign in with Google" in body
    assert 'action="/auth/login/google-oauth2/" method="post"' in body
    assert '<input type="hidden" name="next" value="/admin/integrations/">' in body


@pytest.mark.django_db
def test_admin_session_expires_after_idle_timeout():
    timeout = timedelta(minutes=settings.SESSION_TIMEOUT_MINUTES)
    user = UserFactory(is_superuser=True)
    client = Client()
    start = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        response = client.post("/admin/login/", {"username": user.username, "password": "pass-word-123",
                                                 "next": "/admin/"})
        assert response.status_code == 302
        assert client.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == int(timeout.total_seconds())

        # Activity slides the window: two steps just under the timeout stay signed in.
        for _ in range(2):
            traveller.shift(timeout - timedelta(minutes=1))
            assert client.get("/admin/").status_code == 200

        traveller.shift(timeout + timedelta(minutes=1))
        response = client.get("/admin/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
