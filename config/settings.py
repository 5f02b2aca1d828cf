"""Switchyard settings, read from the environment (django-environ).

Every variable is listed in `.env.example` with its default. With nothing set the
app runs on embedded defaults: SQLite and a Celery transport on the filesystem.
With `APP_ENV=production` the secrets have no default, so a bad deploy fails at boot.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from connectors.registry import provider_apps

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# `make run` writes .env for the demo (an outbound allowlist, a debug setup); the test suite must not inherit it,
# or a developer who ran the demo gets different tests from CI. pytest sets PYTEST_VERSION for its whole session.
if (BASE_DIR / ".env").exists() and "PYTEST_VERSION" not in os.environ:
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)

# ---------------------------------------------------------------- environment
APP_ENV = env.str("APP_ENV", default="development")
IS_PRODUCTION = APP_ENV == "production"
DEBUG = env.bool("DEBUG", default=not IS_PRODUCTION)
# An empty value (as .env.example leaves optional ones) means "use the default".
VAR_DIR = Path(env.str("VAR_DIR", default="") or BASE_DIR / "var")


def _or_default(raw: str, cast: type, default):
    """`raw` read as `cast` the way django-environ reads it, or `default` when it is empty."""
    return default if raw.strip() == "" else environ.Env.parse_value(raw.strip(), cast)


# Insecure defaults exist only outside production; production must set both.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
_DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktaW5zZWN1cmUta2V5LTMyLWJ5dGVzISE="  # 32 bytes, public
if IS_PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")
    ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _DEV_SECRET_KEY
    ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[]) or [_DEV_ENCRYPTION_KEY]
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
_required = {"SECRET_KEY": SECRET_KEY, "ENCRYPTION_KEYS": ENCRYPTION_KEYS, "ALLOWED_HOSTS": ALLOWED_HOSTS}
for _name, _value in _required.items():
    if not _value:
        raise ImproperlyConfigured(f"{_name} is empty; production needs it set.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# ---------------------------------------------------------------- apps
INSTALLED_APPS = [
    "console.apps.SwitchyardAdminConfig",  # django.contrib.admin with the operator console's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "social_django",
    "axes",
    "accounts",
    "integrations",
    "connectors",
    "webhooks",
    "syncjobs",
    "commerce",
    "ads",  # ad accounts, campaigns, ad sets and daily spend (records + services, beside commerce)
    "social",  # the organization's social accounts, posts, post metrics and comments (records and publishing)
    "analysis",  # AI and rule-based analyses of campaigns, prices and stock; suggestions a person accepts
    "notifications",  # alerts to people: rules, conditions, notices (hears the pipelines' events)
    "sandbox",
    "events",  # consumed events: POST /api/events/ from the organization's own services (above the pipelines)
    "observability",  # GET /metrics (Prometheus), reading the pipelines' tables
    "console",  # the top floor: the operator console (admin site, dashboard, every ModelAdmin)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ApiGuardMiddleware",  # /api/: NUL bytes refused, database down → 503
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "social_django.middleware.SocialAuthExceptionMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out sign-in with 429
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "social_django.context_processors.backends",
                "accounts.social.sign_in_options",
            ],
        },
    },
]

# ---------------------------------------------------------------- database
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let web, worker and beat share the file; IMMEDIATE transactions take the write
    # lock when they begin, so two processes wait their turn instead of failing "database is locked" when a
    # reader tries to become a writer halfway through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A hung database must fail a request (and /ready/) in seconds, not hang it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

# ---------------------------------------------------------------- redis, cache
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# ---------------------------------------------------------------- celery
# Reliability first: a task is acknowledged only after it ran, a killed worker's
# task goes back to the queue, and a worker holds one message at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "config.beat_scheduler:SingleBeatScheduler"  # one beat sends; a second stands by
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# A request never waits on the broker: a publish gives up after this (connect, and each reply), once, and
# config/broker.py then skips publishing for CELERY_BROKER_BREAKER_SECONDS (the rows' sweepers re-send).
CELERY_BROKER_TIMEOUT = env.float("CELERY_BROKER_TIMEOUT", default=0.5)
CELERY_BROKER_BREAKER_SECONDS = env.float("CELERY_BROKER_BREAKER_SECONDS", default=5.0)
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_BROKER_TIMEOUT
# A worker outlives any broker outage: it reconnects forever instead of exiting after 100 tries.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        "socket_connect_timeout": CELERY_BROKER_TIMEOUT,
        "socket_timeout": CELERY_BROKER_TIMEOUT,
        "max_retries": 0,  # a publish on a dead connection fails at once rather than reconnecting for seconds
    }
else:
    # The filesystem transport needs no server; worker and beat share the folder.
    _celery_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "control"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost/"  # a host name, or kombu warns "No hostname was supplied" each time
    CELERY_BROKER_TRANSPORT = "config.broker_filesystem:Transport"  # kombu's, each message renamed into place whole
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
        # kombu sleeps this long whenever a poll finds nothing to take, and also while all the worker's slots are
        # busy (prefetch 1): at its default of 1 s a worker took a few messages a second. A poll is one directory
        # listing, under 1 % of a core when idle at 10 ms (bench/broker_throughput.py measures both).
        "polling_interval": env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.01),
    }

# ---------------------------------------------------------------- auth, sessions
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: a locked-out user or address gets no further
    "social_core.backends.google.GoogleOAuth2",
    "django.contrib.auth.backends.ModelBackend",
]
# Console sign-in lockout (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user name, or from one
# address, further sign-ins (even right ones) answer 429 until the cool-off ends or staff unlock it (admin: Axes →
# Access attempts, or `manage.py axes_reset`). 0 minutes: locked until unlocked.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=30)
_login_cooloff = env.int("LOGIN_COOLOFF_MINUTES", default=30)
AXES_COOLOFF_TIME = timedelta(minutes=_login_cooloff) if _login_cooloff > 0 else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.audit.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no banner on every process start (commands print their own first line; tests read it)
# Failed API keys per client address within a window, after which a wrong key answers 429 (a right key still works).
API_KEY_FAILURE_LIMIT = env.int("API_KEY_FAILURE_LIMIT", default=20)
API_KEY_FAILURE_WINDOW_SECONDS = env.int("API_KEY_FAILURE_WINDOW_SECONDS", default=60)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_TIMEOUT_MINUTES = env.int("SESSION_TIMEOUT_MINUTES", default=30)
SESSION_COOKIE_AGE = SESSION_TIMEOUT_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True  # idle timeout: each request extends the session
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/admin/"

# ---------------------------------------------------------------- https
# Production answers only over https: plain http is redirected, and browsers are told (HSTS) never to try it.
# The probes stay on plain http so a load balancer or orchestrator can reach them inside the network.
# An empty value keeps the per-environment default, so a copied .env.example never switches https off.
SECURE_SSL_REDIRECT = _or_default(env.str("SECURE_SSL_REDIRECT", default=""), bool, IS_PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^ready/$"]
SECURE_HSTS_SECONDS = _or_default(env.str("SECURE_HSTS_SECONDS", default=""), int, 31536000 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _or_default(env.str("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=""), bool,
                                             IS_PRODUCTION)
# Preloading binds the whole registrable domain in every browser for months; its owner decides, not this app.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Behind a proxy that terminates TLS: "<header>,<value>" the proxy sets on https requests, e.g.
# HTTP_X_FORWARDED_PROTO,https. Only set it when the proxy overwrites that header on every request.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header and (len(_proxy_ssl_header) != 2 or not _proxy_ssl_header[0].startswith("HTTP_")):
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER must read HTTP_<HEADER>,<value>, e.g. HTTP_X_FORWARDED_PROTO,https."
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None

# ---------------------------------------------------------------- staff sign-in with Google
ALLOWED_EMAILS = env.list("ALLOWED_EMAILS", default=[])
ALLOWED_EMAIL_DOMAINS = env.list("ALLOWED_EMAIL_DOMAINS", default=[])
SOCIAL_AUTH_GOOGLE_OAUTH2_KEY = env.str("GOOGLE_OAUTH2_CLIENT_ID", default="")
SOCIAL_AUTH_GOOGLE_OAUTH2_SECRET = env.str("GOOGLE_OAUTH2_CLIENT_SECRET", default="")
SOCIAL_AUTH_GOOGLE_OAUTH2_WHITELISTED_EMAILS = ALLOWED_EMAILS
SOCIAL_AUTH_GOOGLE_OAUTH2_WHITELISTED_DOMAINS = ALLOWED_EMAIL_DOMAINS
SOCIAL_AUTH_JSONFIELD_ENABLED = True
SOCIAL_AUTH_LOGIN_REDIRECT_URL = "/admin/"
SOCIAL_AUTH_LOGIN_ERROR_URL = "/admin/login/?google=denied"
SOCIAL_AUTH_RAISE_EXCEPTIONS = False  # a refused sign-in returns to the login page, DEBUG or not
SOCIAL_AUTH_PIPELINE = (
    "social_core.pipeline.social_auth.social_details",
    "social_core.pipeline.social_auth.social_uid",
    "social_core.pipeline.social_auth.auth_allowed",
    "accounts.social.require_allowed_email",
    "social_core.pipeline.social_auth.social_user",
    "social_core.pipeline.social_auth.associate_by_email",
    "social_core.pipeline.user.get_username",
    "social_core.pipeline.user.create_user",
    "accounts.social.make_staff",
    "social_core.pipeline.social_auth.associate_user",
    "social_core.pipeline.social_auth.load_extra_data",
    "social_core.pipeline.user.user_details",
)

# ---------------------------------------------------------------- i18n, static
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The console shows instants as 2024-06-01 14:03:07 UTC: seconds and the zone, whatever the locale's habit.
FORMAT_MODULE_PATH = "console.formats"
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
# Serve static files straight from the apps when collectstatic has not run (make run, a bare deploy).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Shipping labels (commerce/services/labels.py): a folder under VAR_DIR by default; an S3-compatible bucket
# (AWS S3, MinIO, Cloudflare R2…) through django-storages when LABEL_STORAGE_S3_BUCKET is set. Labels carry
# customers' names and addresses: they are served through the API and the console only, never a public URL.
LABEL_STORAGE_DIR = env.str("LABEL_STORAGE_DIR", default="") or str(VAR_DIR / "labels")
LABEL_STORAGE_S3_BUCKET = env.str("LABEL_STORAGE_S3_BUCKET", default="")
if LABEL_STORAGE_S3_BUCKET:
    LABEL_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": LABEL_STORAGE_S3_BUCKET,
            "location": env.str("LABEL_STORAGE_S3_PREFIX", default="labels"),
            "endpoint_url": env.str("LABEL_STORAGE_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("LABEL_STORAGE_S3_REGION", default="") or None,
            # Empty: boto3's own chain (AWS_* variables, an instance or task role).
            "access_key": env.str("LABEL_STORAGE_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("LABEL_STORAGE_S3_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }
else:
    LABEL_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                     "OPTIONS": {"location": LABEL_STORAGE_DIR, "base_url": None}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
    "labels": LABEL_STORAGE,
}

# ---------------------------------------------------------------- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasOrganizationRole"],
    "DEFAULT_PARSER_CLASSES": ["config.api.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchyard API",
    "DESCRIPTION": "The integration hub of the ERP: integrations, providers, logs, webhooks and syncs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webhooks.inbound.schema.add_receive_routes",
        "connectors.schema.add_provider_routes",
        "config.schema.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Api-Key <key>`",
            }
        }
    },
    "SECURITY": [{"ApiKeyAuth": []}],
    # Every record has a "status"; each choice set gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "IntegrationStatusEnum": "integrations.models.IntegrationStatus",
        "OrderStatusEnum": "commerce.models.OrderStatus",
        "ProductStatusEnum": "commerce.models.ProductStatus",
        "PushStatusEnum": "commerce.models.PushStatus",
        "JobStatusEnum": "syncjobs.models.JobStatus",
        "IncomingWebhookStatusEnum": "webhooks.models.IncomingStatus",
        "DeliveryStatusEnum": "webhooks.models.DeliveryStatus",
        "HealthStateEnum": "integrations.health_selectors.Health.STATES",
        "NotificationTriggerEnum": "notifications.models.TriggerKind",
        "NoticeKindEnum": "notifications.models.NoticeKind",
        "NoticeStatusEnum": "notifications.models.NoticeStatus",
        "PostKindEnum": "social.models.PostKind",
        "PostStatusEnum": "social.models.PostStatus",
        "AnalysisKindEnum": "analysis.models.AnalysisKind",
    },
}

# ---------------------------------------------------------------- integrations
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
OAUTH_ALLOWED_REDIRECT_URIS = env.list("OAUTH_ALLOWED_REDIRECT_URIS", default=[])
OAUTH_STATE_TTL_MINUTES = env.int("OAUTH_STATE_TTL_MINUTES", default=10)
# Hosts or CIDR ranges that outbound calls may reach although they are not public (private, loopback, CGNAT...).
OUTBOUND_URL_ALLOWLIST = env.list("OUTBOUND_URL_ALLOWLIST", default=[])
PROVIDER_CONNECT_TIMEOUT = env.float("PROVIDER_CONNECT_TIMEOUT", default=5.0)
PROVIDER_READ_TIMEOUT = env.float("PROVIDER_READ_TIMEOUT", default=30.0)
PROVIDER_MAX_RETRIES = env.int("PROVIDER_MAX_RETRIES", default=4)
INTEGRATION_LOG_BODY_LIMIT = env.int("INTEGRATION_LOG_BODY_LIMIT", default=4096)
# The largest media file fetched from a post's media URL for a platform that takes the bytes (a video upload).
SOCIAL_MEDIA_MAX_BYTES = env.int("SOCIAL_MEDIA_MAX_BYTES", default=256 * 1024 * 1024)
INTEGRATION_LOG_RETENTION_DAYS = env.int("INTEGRATION_LOG_RETENTION_DAYS", default=30)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
# How often each web process and worker records the key ids of its ring (integrations/key_ring_reports.py), so
# that rotate_encryption_keys can check every running process holds the new key first; 0 turns reporting off.
KEY_RING_REPORT_SECONDS = env.int("KEY_RING_REPORT_SECONDS", default=60)

# ---------------------------------------------------------------- outgoing webhooks
# Hosts (exact names) and CIDR ranges webhook endpoints may point at although private or loopback.
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
# The receive path's INSERT is prepared once per PostgreSQL connection (webhooks/inbound/row_insert.py); false
# behind a pooler that drops session state between transactions (it is then bound server-side, not prepared).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
WEBHOOK_ALLOWED_CIDRS = env.list("WEBHOOK_ALLOWED_CIDRS", default=[])
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=IS_PRODUCTION)
WEBHOOK_DELIVERY_TIMEOUT = env.float("WEBHOOK_DELIVERY_TIMEOUT", default=15.0)
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=5)
WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = env.int("WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT", default=4)
WEBHOOK_DISPATCH_THREADS = env.int("WEBHOOK_DISPATCH_THREADS", default=16)
# Email: owners are told when an endpoint is disabled; nothing is sent while EMAIL_HOST is empty.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Switchyard <switchyard@localhost>")

# ---------------------------------------------------------------- notifications
# A notice whose channel failed transiently is tried again after base·2^(n−1) seconds, up to this many attempts.
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=6)
NOTIFY_RETRY_BASE_SECONDS = env.int("NOTIFY_RETRY_BASE_SECONDS", default=30)

# ---------------------------------------------------------------- sync
# Incremental syncs start this many seconds before the last one did, so a change that landed while it ran comes again.
SYNC_OVERLAP_SECONDS = env.int("SYNC_OVERLAP_SECONDS", default=300)
# A job not renewed for this long is presumed dead (running) or its message lost (pending) and is re-queued by
# the scheduler (every 30 s). A running job renews it every quarter lease (a heartbeat) and at every page.
SYNC_JOB_LEASE_SECONDS = env.int("SYNC_JOB_LEASE_SECONDS", default=60)
SYNC_MAX_RETRIES = env.int("SYNC_MAX_RETRIES", default=5)
SYNC_RETRY_BACKOFF_SECONDS = env.int("SYNC_RETRY_BACKOFF_SECONDS", default=30)
SYNC_ERROR_SAMPLE_SIZE = env.int("SYNC_ERROR_SAMPLE_SIZE", default=20)
# A sync fetches the next page while it writes one (PostgreSQL; one page ahead). Off: fetch and write in turn.
SYNC_PREFETCH = env.bool("SYNC_PREFETCH", default=True)

# ---------------------------------------------------------------- ads
# Ad platforms restate recent days (late conversions, invalid clicks): every metrics sync re-pulls this many days.
AD_METRICS_RESTATEMENT_DAYS = env.int("AD_METRICS_RESTATEMENT_DAYS", default=7)
SYNC_ERROR_AFTER_FAILURES = env.int("SYNC_ERROR_AFTER_FAILURES", default=5)
SYNC_JOB_RETENTION_DAYS = env.int("SYNC_JOB_RETENTION_DAYS", default=INTEGRATION_LOG_RETENTION_DAYS)
# Sync jobs run from a queue of their own, so a backlog of webhooks (or anything else) never holds "Sync now" back;
# the Procfiles' `syncworker` consumes it (every deployment needs a worker on it, or jobs stay pending).
SYNC_TASK_QUEUE = env.str("SYNC_TASK_QUEUE", default="") or "sync"
# Seconds a pending job's sent message is presumed still queued; only then does the scheduler send it another.
SYNC_JOB_NUDGE_TTL_SECONDS = env.int("SYNC_JOB_NUDGE_TTL_SECONDS", default=900)
# Bearer secret of POST /api/cron/{job}/ (platforms without beat); empty disables the endpoint.
CRON_SECRET = env.str("CRON_SECRET", default="")

# ---------------------------------------------------------------- commerce
# The ERP stock location an order reserves at when its integration's config names none.
COMMERCE_STOCK_LOCATION = env.str("COMMERCE_STOCK_LOCATION", default="main")
COMMERCE_LOW_STOCK_THRESHOLD = env.int("COMMERCE_LOW_STOCK_THRESHOLD", default=5)
# Stock changes within this window reach each channel as one push (debounce).
COMMERCE_INVENTORY_PUSH_DELAY_SECONDS = env.float("COMMERCE_INVENTORY_PUSH_DELAY_SECONDS", default=10.0)
COMMERCE_PUSH_MAX_RETRIES = env.int("COMMERCE_PUSH_MAX_RETRIES", default=5)
# Orders one hourly export run writes into an ERP integration (the rest wait for the next run).
ORDER_EXPORT_BATCH = env.int("ORDER_EXPORT_BATCH", default=200)
# Nightly backups of the ERP's records to a file store: how many runs a folder keeps when its config says nothing.
BACKUP_KEEP_DEFAULT = env.int("BACKUP_KEEP_DEFAULT", default=7)

# ---------------------------------------------------------------- oauth
# The beat task refreshes tokens expiring within this window, and any token not refreshed for this many hours.
OAUTH_REFRESH_WINDOW_MINUTES = env.int("OAUTH_REFRESH_WINDOW_MINUTES", default=15)
OAUTH_REFRESH_MAX_AGE_HOURS = env.int("OAUTH_REFRESH_MAX_AGE_HOURS", default=24)

# ---------------------------------------------------------------- incoming webhooks
# Seconds a worker holds a webhook it processes; a dead worker's webhook is taken up again after this.
WEBHOOK_INCOMING_LEASE_SECONDS = env.int("WEBHOOK_INCOMING_LEASE_SECONDS", default=300)
WEBHOOK_INCOMING_MAX_RETRIES = env.int("WEBHOOK_INCOMING_MAX_RETRIES", default=5)
WEBHOOK_INCOMING_RETRY_BASE_SECONDS = env.int("WEBHOOK_INCOMING_RETRY_BASE_SECONDS", default=30)
WEBHOOK_INCOMING_RETRY_MAX_SECONDS = env.int("WEBHOOK_INCOMING_RETRY_MAX_SECONDS", default=3600)
# The sweeper re-queues pending webhooks that waited longer than this with no nudge on its way (the send failed).
WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS = env.int("WEBHOOK_INCOMING_SWEEP_AFTER_SECONDS", default=60)
WEBHOOK_INCOMING_SWEEP_BATCH = env.int("WEBHOOK_INCOMING_SWEEP_BATCH", default=500)
# Celery queue of webhook processing ("" = the default queue); a worker must consume it.
WEBHOOK_INCOMING_QUEUE = env.str("WEBHOOK_INCOMING_QUEUE", default="")
# Seconds a sent processing nudge is presumed still on its way (queued behind others): the sweeper sends a
# pending webhook another one only after this, so a backlog is never multiplied by re-queues.
WEBHOOK_INCOMING_NUDGE_TTL_SECONDS = env.int("WEBHOOK_INCOMING_NUDGE_TTL_SECONDS", default=900)
WEBHOOK_SIGNATURE_TOLERANCE_SECONDS = env.int("WEBHOOK_SIGNATURE_TOLERANCE_SECONDS", default=300)
# Each web process sends the processing messages of the webhooks it stored as one message per this many seconds,
# from a thread of its own (no broker round trip in a request); 0 sends each in its request, after its commit.
WEBHOOK_INCOMING_NUDGE_BATCH_SECONDS = env.float("WEBHOOK_INCOMING_NUDGE_BATCH_SECONDS", default=0.05)
# Seconds a web process reuses an integration it looked up by route key (changes saved in the process clear it at
# once, and a webhook is stored only if its integration is unchanged since); 0 looks it up in every request.
WEBHOOK_ROUTE_CACHE_SECONDS = env.float("WEBHOOK_ROUTE_CACHE_SECONDS", default=60.0)

# ---------------------------------------------------------------- consumed events from a Redis stream (optional)
# events/stream.py: `manage.py consume_events_stream` reads this stream of REDIS_URL's Redis ("" = off; the HTTP
# intake POST /api/events/ is the default), as consumer group EVENTS_REDIS_GROUP; entries older than
# EVENTS_REDIS_STREAM_MAX_AGE_SECONDS (by their signed timestamp) are refused.
EVENTS_REDIS_STREAM = env.str("EVENTS_REDIS_STREAM", default="")
EVENTS_REDIS_GROUP = env.str("EVENTS_REDIS_GROUP", default="switchyard")
EVENTS_REDIS_STREAM_MAX_AGE_SECONDS = env.int("EVENTS_REDIS_STREAM_MAX_AGE_SECONDS", default=7 * 86400)

# ---------------------------------------------------------------- task routes
# Where tasks sent by name (retries, the admin's "run now") go; the services name the same queues when they nudge.
CELERY_TASK_ROUTES = {"syncjobs.tasks.run_sync_job": {"queue": SYNC_TASK_QUEUE}}
if WEBHOOK_INCOMING_QUEUE:
    CELERY_TASK_ROUTES["webhooks.inbound.tasks.process_incoming_webhook"] = {"queue": WEBHOOK_INCOMING_QUEUE}
    CELERY_TASK_ROUTES["webhooks.inbound.tasks.process_incoming_webhooks"] = {"queue": WEBHOOK_INCOMING_QUEUE}

# ---------------------------------------------------------------- providers
# App-wide settings of providers (OAuth clients, app ids…), by registry key: {"<key>": {"<NAME>": "…"}}. A name
# not set here is read from the environment as <KEY>_<NAME> when used (connectors.base.provider_setting); each
# connector declares the names it reads (`provider_settings`) and .env.example lists them.
PROVIDER_SETTINGS: dict[str, dict[str, str]] = {}
# Meta's Graph API version, one for every Meta connector (ad accounts, Pages): connectors/meta_graph.py.
META_GRAPH_API_VERSION = env.str("META_GRAPH_API_VERSION", default="v27.0")
# Providers whose folder is a Django app (models, migrations, admin) are installed from the registry.
INSTALLED_APPS += provider_apps()

# ---------------------------------------------------------------- demo
DEMO_ADMIN_PASSWORD = env.str("DEMO_ADMIN_PASSWORD", default="")

# ---------------------------------------------------------------- metrics
# GET /metrics (Prometheus) lets in a scrape carrying `Authorization: Bearer <METRICS_BEARER_TOKEN>` or coming from
# an address in METRICS_ALLOWED_IPS (addresses or CIDRs, matched against REMOTE_ADDR); with neither, none.
# ---- AI analysis (analysis/): the rule-based analyzer's thresholds and the model's monthly token budget
AI_MONTHLY_TOKEN_BUDGET = env.int("AI_MONTHLY_TOKEN_BUDGET", default=2_000_000)
AI_MAX_OUTPUT_TOKENS = env.int("AI_MAX_OUTPUT_TOKENS", default=4096)
AI_ROAS_LOW = env.float("AI_ROAS_LOW", default=1.0)
AI_ROAS_HIGH = env.float("AI_ROAS_HIGH", default=4.0)
AI_REORDER_LEAD_TIME_DAYS = env.int("AI_REORDER_LEAD_TIME_DAYS", default=14)
AI_PRICE_OUTLIER_PERCENT = env.float("AI_PRICE_OUTLIER_PERCENT", default=15.0)

METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
for _entry in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_entry!r} is not an address or CIDR range.") from None
# The *_window series count what happened in the last this many seconds.
METRICS_WINDOW_SECONDS = env.int("METRICS_WINDOW_SECONDS", default=300)
# Per-integration and per-endpoint series only while there are at most this many organizations (0: never).
METRICS_PER_INTEGRATION_MAX_ORGANIZATIONS = env.int("METRICS_PER_INTEGRATION_MAX_ORGANIZATIONS", default=0)

# ---------------------------------------------------------------- logging
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# Lines written for every task received and finished, every beat send, every request runserver answers and every
# sign-in check: at INFO they bury what matters (a worker idling prints one every few seconds). They keep their
# warnings and errors, and come back in full with LOG_LEVEL=DEBUG.
_CHATTY_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.beat", "django.server", "axes")
_CHATTY_LEVEL = LOG_LEVEL if LOG_LEVEL in ("DEBUG", "ERROR", "CRITICAL") else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {name: {"level": _CHATTY_LEVEL} for name in _CHATTY_LOGGERS},
}
