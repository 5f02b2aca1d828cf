"""What the settings module computes from the environment.

Each test executes `config/settings.py` afresh as a separate module with the
environment patched, so the running Django settings are never touched.
"""

from __future__ import annotations

import base64
import importlib.util
import os
from pathlib import Path

import environ
import pytest
from django.conf import settings as running_settings
from django.core.exceptions import ImproperlyConfigured

from tests import settings_support
from tests.settings_support import SETTINGS_FILE

load_settings = settings_support.load_settings  # the fixture, re-bound (nothing shadows an import)


def a_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_the_filesystem_broker_names_a_host_so_kombu_stays_quiet(load_settings, caplog):
    """Without one, kombu logs "No hostname was supplied. Reverting to default 'localhost'" on every publish,
    so on every command that queues work."""
    from kombu import Connection

    s = load_settings()
    with caplog.at_level("WARNING", logger="kombu.connection"):
        Connection(s.CELERY_BROKER_URL, transport_options=s.CELERY_BROKER_TRANSPORT_OPTIONS).info()
    assert "No hostname" not in caplog.text


def test_per_task_and_per_request_lines_are_quiet_unless_debugging(load_settings):
    quiet = load_settings()
    chatty = ("celery.worker.strategy", "celery.app.trace", "celery.beat", "django.server", "axes")
    assert quiet.LOGGING["root"]["level"] == "INFO"
    assert {quiet.LOGGING["loggers"][name]["level"] for name in chatty} == {"WARNING"}
    debugging = load_settings(LOG_LEVEL="debug")
    assert {debugging.LOGGING["loggers"][name]["level"] for name in chatty} == {"DEBUG"}


def test_without_redis_url_celery_uses_the_filesystem_transport(load_settings, tmp_path):
    s = load_settings()
    assert s.REDIS_URL == ""
    assert s.CELERY_BROKER_URL.startswith("filesystem://")
    assert s.CELERY_BROKER_TRANSPORT == "config.broker_filesystem:Transport"  # messages renamed into place whole
    options = s.CELERY_BROKER_TRANSPORT_OPTIONS
    queue = tmp_path / "var" / "celery" / "queue"
    assert options["data_folder_in"] == options["data_folder_out"] == str(queue)
    assert queue.is_dir() and (tmp_path / "var" / "celery" / "processed").is_dir()
    assert s.CACHES["default"]["BACKEND"].endswith("LocMemCache")


def test_with_redis_url_celery_and_the_cache_use_redis(load_settings):
    s = load_settings(REDIS_URL="redis://127.0.0.1:6379/3")
    assert s.CELERY_BROKER_URL == "redis://127.0.0.1:6379/3"
    assert s.CELERY_BROKER_TRANSPORT_OPTIONS == {
        "visibility_timeout": 3600, "socket_connect_timeout": 0.5, "socket_timeout": 0.5, "max_retries": 0,
    }
    assert s.CACHES["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/3",
    }


def test_celery_is_configured_for_reliability(load_settings):
    s = load_settings()
    assert s.CELERY_TASK_ACKS_LATE is True
    assert s.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert s.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert s.CELERY_ACCEPT_CONTENT == ["json"]
    assert s.CELERY_TASK_SERIALIZER == s.CELERY_RESULT_SERIALIZER == "json"
    assert s.CELERY_TASK_ALWAYS_EAGER is False


def test_without_database_url_the_database_is_sqlite(load_settings):
    s = load_settings()
    database = s.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


def test_database_url_selects_postgresql(load_settings):
    s = load_settings(DATABASE_URL="postgres://app:pw@db.internal:5432/switchyard")
    database = s.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["NAME"] == "switchyard"
    assert database["CONN_HEALTH_CHECKS"] is True


def test_development_has_working_defaults(load_settings):
    s = load_settings()
    assert s.DEBUG is True
    assert len(base64.b64decode(s.ENCRYPTION_KEYS[0])) == 32


def test_encryption_keys_are_a_comma_separated_list(load_settings):
    first, second = a_key(), a_key()
    assert load_settings(ENCRYPTION_KEYS=f"{first},{second}").ENCRYPTION_KEYS == [first, second]


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ENCRYPTION_KEYS", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_its_secrets(load_settings, missing):
    env = {"APP_ENV": "production", "SECRET_KEY": "s" * 50, "ENCRYPTION_KEYS": a_key(), "ALLOWED_HOSTS": "hub.example"}
    del env[missing]
    with pytest.raises(ImproperlyConfigured, match=missing):
        load_settings(**env)


def test_production_with_its_secrets(load_settings):
    key = a_key()
    s = load_settings(APP_ENV="production", SECRET_KEY="s" * 50, ENCRYPTION_KEYS=key, ALLOWED_HOSTS="hub.example")
    assert s.DEBUG is False
    assert s.ENCRYPTION_KEYS == [key]
    assert s.SESSION_COOKIE_SECURE is True


def test_an_empty_key_list_is_refused(load_settings):
    with pytest.raises(ImproperlyConfigured, match="ENCRYPTION_KEYS is empty"):
        load_settings(APP_ENV="production", SECRET_KEY="s" * 50, ENCRYPTION_KEYS="", ALLOWED_HOSTS="hub.example")


def test_the_test_suite_never_reads_a_developers_env_file(monkeypatch, tmp_path):
    """`make run` writes .env (with the sandbox's outbound allowlist); `make test` after it must behave as in CI."""
    calls = []
    monkeypatch.setattr(environ.Env, "read_env", lambda *args, **kwargs: calls.append(args))
    monkeypatch.setattr(Path, "exists", lambda self: self.name == ".env" or os.path.exists(self))
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))

    def load():
        spec = importlib.util.spec_from_file_location("switchyard_settings_dotenv", SETTINGS_FILE)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))

    load()
    assert calls == []  # under pytest (PYTEST_VERSION is set): never
    monkeypatch.delenv("PYTEST_VERSION")
    load()
    assert len(calls) == 1  # anywhere else: the .env is read
    assert running_settings.OUTBOUND_URL_ALLOWLIST == []
