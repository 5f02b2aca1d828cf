"""Console sign-in is locked after LOGIN_FAILURE_LIMIT wrong passwords, per user and per address (django-axes)."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db

PASSWORD = "right-pass-word-123"
LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # 60 sign-ins, not 60 s


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)


def _sign_in(client, username, password, address="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"},
                       REMOTE_ADDR=address)


def _signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def _fail(client, times, username="operator", address="203.0.113.7"):
    return [_sign_in(client, username, "wrong-password", address).status_code for _ in range(times)]


def test_the_limit_is_thirty_by_default(settings):
    assert settings.AXES_FAILURE_LIMIT == 30


def test_twenty_nine_wrong_passwords_then_the_right_one_signs_in(client, staff):
    assert set(_fail(client, 29)) == {200}  # the form again, with its error
    assert _signed_in(_sign_in(client, "operator", PASSWORD))


def test_after_thirty_wrong_passwords_the_thirty_first_is_locked_out_even_when_right(client, staff):
    _fail(client, 30)

    response = _sign_in(client, "operator", PASSWORD)

    assert response.status_code == 429
    assert not _signed_in(response) and "_auth_user_id" not in client.session


def test_the_user_is_locked_from_another_address_too(client, staff):
    for n in range(30):
        _sign_in(client, "operator", "wrong-password", address=f"198.51.100.{n + 1}")
    assert _sign_in(client, "operator", PASSWORD, address="192.0.2.200").status_code == 429


def test_the_address_is_locked_for_other_users_too(client, staff):
    get_user_model().objects.create_user("other", password=PASSWORD, is_staff=True)
    for n in range(30):
        _sign_in(client, f"guess-{n}", "wrong-password")
    assert _sign_in(client, "other", PASSWORD).status_code == 429
    assert _signed_in(_sign_in(client, "other", PASSWORD, address="192.0.2.200"))


def test_the_reset_command_unlocks(client, staff):
    _fail(client, 30)
    call_command("axes_reset", stdout=io.StringIO())
    assert _signed_in(_sign_in(client, "operator", PASSWORD))


def test_a_superuser_unlocks_from_the_console(client, staff):
    _fail(client, 30)
    from axes.models import AccessAttempt

    admin = get_user_model().objects.create_superuser("root", password=PASSWORD)
    console = type(client)()
    console.force_login(admin)
    changelist = console.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200 and "operator" in changelist.content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    deleted = console.post("/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids,
                                                          "post": "yes"})
    assert deleted.status_code == 302 and not AccessAttempt.objects.exists()

    assert _signed_in(_sign_in(client, "operator", PASSWORD))


def test_the_limit_is_a_setting(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _fail(client, 3)
    assert _sign_in(client, "operator", PASSWORD).status_code == 429
