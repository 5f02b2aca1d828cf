"""`manage.py setup_demo`, which `make run` calls on every start."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import Membership
from console.management.commands.setup_demo import refresh_token_file
from integrations.models import Integration


@pytest.fixture
def var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    return tmp_path


def run() -> str:
    out = StringIO()
    call_command("setup_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_makes_an_owner_login_and_a_sandbox_integration_that_will_refresh(var_dir, settings):
    settings.DEMO_ADMIN_PASSWORD = "demo-pass-123"
    output = run()
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.check_password("demo-pass-123")
    assert "password: demo-pass-123" in output
    assert Membership.objects.get(user=user).role == "owner"
    integration = Integration.objects.get(code="demo-shop")
    assert integration.provider == "sandbox" and integration.status == "active"
    assert integration.api_endpoint == "http://127.0.0.1:8765"  # the sandbox connector's URL setting
    assert integration.access_token == "" and integration.token_expired
    assert integration.refresh_token == refresh_token_file().read_text()


@pytest.mark.django_db
def test_running_it_again_keeps_one_of_each_and_hands_out_a_new_refresh_token(var_dir, settings):
    settings.DEMO_ADMIN_PASSWORD = ""
    first_output = run()
    first_token = refresh_token_file().read_text()
    second_output = run()
    assert Integration.objects.filter(code="demo-shop").count() == 1
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert Integration.objects.get(code="demo-shop").refresh_token == refresh_token_file().read_text() != first_token
    generated = first_output.split("password: ", 1)[1].strip()
    assert get_user_model().objects.get(username="admin").check_password(generated)
    assert "unchanged" in second_output
