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


@pytest.mark.django_db
def test_the_demo_shop_syncs_by_itself_and_the_login_names_the_public_url(var_dir, settings):
    settings.DEMO_ADMIN_PASSWORD, settings.PUBLIC_BASE_URL = "demo-pass-123", "http://127.0.0.1:8123"
    output = run()
    integration = Integration.objects.get(code="demo-shop")
    assert integration.auto_sync_enabled
    rows = {row.job_type: (row.every_minutes, row.enabled, row.next_due_at) for row in integration.sync_schedules.all()}
    assert rows == {"sync_products": (5, True, None), "sync_inventory": (5, True, None),
                    "sync_orders": (5, True, None), "sync_order_status": (5, True, None),
                    "check_health": (15, True, None)}  # due at once
    assert "Admin: http://127.0.0.1:8123/admin/  user: admin  password: demo-pass-123" in output


def test_demo_ready_prints_the_login_and_the_sandbox_token_call_once_both_answer(settings, monkeypatch):
    settings.DEMO_ADMIN_PASSWORD, settings.PUBLIC_BASE_URL = "demo-pass-123", "http://127.0.0.1:8123"
    monkeypatch.setenv("SANDBOX_URL", "http://127.0.0.1:8765")  # the simulator's URL is its provider setting
    asked = []
    monkeypatch.setattr("console.management.commands.demo_ready._answers",
                        lambda url: asked.append(url) or len(asked) > 2)  # the first round: not yet
    monkeypatch.setattr("console.management.commands.demo_ready.time.sleep", lambda seconds: None)
    out = StringIO()
    call_command("demo_ready", "--once", stdout=out)
    assert asked[:2] == ["http://127.0.0.1:8123/ready/", "http://127.0.0.1:8765/"]
    text = out.getvalue()
    assert "Console   http://127.0.0.1:8123/admin/   user admin   password demo-pass-123   (kept in .env)" in text
    assert "curl -X POST http://127.0.0.1:8765/_sandbox/tokens" in text


def _bootstrap(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "bin").mkdir(exist_ok=True)
    shutil.copy(root / "bin" / "bootstrap_env.py", tmp_path / "bin")
    shutil.copy(root / ".env.example", tmp_path)
    subprocess.run([sys.executable, str(tmp_path / "bin" / "bootstrap_env.py")], check=True, capture_output=True)
    return dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines()
                if "=" in line and not line.startswith("#"))


def test_bootstrap_env_writes_a_password_and_adds_one_to_an_env_without_it(tmp_path):
    first = _bootstrap(tmp_path)
    assert first["DEMO_ADMIN_PASSWORD"] and first["ENCRYPTION_KEYS"]
    assert _bootstrap(tmp_path) == first  # a second run changes nothing
    env = tmp_path / ".env"
    env.write_text("".join(f"{line}\n" for line in env.read_text().splitlines()
                           if not line.startswith("DEMO_ADMIN_PASSWORD=")))
    again = _bootstrap(tmp_path)
    assert again["DEMO_ADMIN_PASSWORD"] and again["ENCRYPTION_KEYS"] == first["ENCRYPTION_KEYS"]
