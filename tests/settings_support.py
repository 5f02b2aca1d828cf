"""Loading `config/settings.py` afresh with a patched environment (the settings and deploy tests).

`load_settings(**env)` executes the file as a separate module, so the running Django settings are never touched.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import environ
import pytest
from django.conf import settings as running_settings

SETTINGS_FILE = Path(running_settings.BASE_DIR) / "config" / "settings.py"
_ENV_NAMES = (
    "APP_ENV", "DEBUG", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "ALLOWED_HOSTS",
    "CELERY_VISIBILITY_TIMEOUT", "CELERY_TASK_ALWAYS_EAGER",
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
)  # fmt: skip


@pytest.fixture
def load_settings(monkeypatch, tmp_path):
    def load(**env: str):
        for name in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # A developer's .env must not leak into what is under test (or into os.environ).
        monkeypatch.setattr(environ.Env, "read_env", lambda *args, **kwargs: None)
        spec = importlib.util.spec_from_file_location("switchyard_settings_under_test", SETTINGS_FILE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
