"""Production settings pass Django's deployment checklist, and https is enforced without breaking the probes."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings as running_settings
from django.test import override_settings

from tests import settings_support

load_settings = settings_support.load_settings  # the fixture, re-bound (nothing shadows an import)


def _production_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "APP_ENV": "production",
        "DEBUG": "false",  # a developer's .env (make run writes DEBUG=true) must not decide this
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ENCRYPTION_KEYS": base64.b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "hub.example.com",
        "VAR_DIR": str(tmp_path / "var"),
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    }
    return {**env, **extra}


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=running_settings.BASE_DIR, env=_production_env(tmp_path), capture_output=True, text=True, timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output and "ERRORS" not in output, output
    assert "System check identified no issues" in output, output


def test_production_https_settings_come_from_the_environment(load_settings):
    key = base64.b64encode(os.urandom(32)).decode()
    env = {"APP_ENV": "production", "SECRET_KEY": "s" * 50, "ENCRYPTION_KEYS": key, "ALLOWED_HOSTS": "hub.example"}
    s = load_settings(**env)
    assert s.SECURE_SSL_REDIRECT is True
    assert s.SECURE_HSTS_SECONDS == 31536000
    assert s.SECURE_PROXY_SSL_HEADER is None
    assert s.SESSION_COOKIE_SECURE is True and s.CSRF_COOKIE_SECURE is True

    s = load_settings(**env, SECURE_HSTS_SECONDS="3600", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https")
    assert s.SECURE_HSTS_SECONDS == 3600
    assert s.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")

    dev = load_settings()
    assert dev.SECURE_SSL_REDIRECT is False and dev.SECURE_HSTS_SECONDS == 0


def test_a_malformed_proxy_header_fails_at_boot(load_settings):
    with pytest.raises(Exception, match="SECURE_PROXY_SSL_HEADER"):
        load_settings(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")


@pytest.mark.django_db
def test_plain_http_is_redirected_but_the_probes_answer(client):
    with override_settings(SECURE_SSL_REDIRECT=True, SECURE_HSTS_SECONDS=31536000,
                           SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
        assert client.get("/health/").status_code == 200
        assert client.get("/ready/").status_code in (200, 503)  # answered, not redirected
        redirected = client.get("/api/providers/")
        assert redirected.status_code == 301 and redirected["Location"].startswith("https://")
        behind_proxy = client.get("/api/providers/", headers={"X-Forwarded-Proto": "https"})
        assert behind_proxy.status_code == 401
        assert behind_proxy["Strict-Transport-Security"].startswith("max-age=31536000")
