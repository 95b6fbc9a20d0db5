"""Settings shared by every environment, read from the environment with django-environ.

Environment-specific modules (local, test, production) import from here and override.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    # django.contrib.admin, with the sign-in that asks for the second factor (config.access)
    "config.access.admin_config.ControlPlaneAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc files, served locally (no CDN)
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "config.audit",
    "config.access",
    "providers",
    "usage",
    "chat",
]

MIDDLEWARE = [
    # First: the request id, Django's request metrics and the request's log line.
    "config.request_context.RequestContextMiddleware",
    # Then: a bad Host, NUL in a path or query and chunked bodies are settled before anything
    # else reads the request (the HTTPS redirect reads the Host).
    "config.hardening.ApiEdgeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.audit.context.AuditContextMiddleware",
    # BROWSER_MIDDLEWARE, except on the paths that only consumer keys call.
    "config.browser_middleware.BrowserMiddleware",
]

# What people in a browser need (admin, playground, dashboard, the session-authenticated
# /api/), run inside config.browser_middleware.BrowserMiddleware, in this order.
BROWSER_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "config.access.middleware.MFARequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout response.
    "axes.middleware.AxesMiddleware",
]
# Authenticated by consumer keys only: no session, CSRF or session user is read there.
KEY_API_PATH_PREFIXES = ["/v1/", "/anthropic/"]
# Admin, the deployment checklist and django-axes look for their middlewares in MIDDLEWARE; they
# are in BROWSER_MIDDLEWARE, which config.browser_middleware's own check (config.E001/E002)
# verifies instead.
SILENCED_SYSTEM_CHECKS = [
    "admin.E408",
    "admin.E409",
    "admin.E410",
    "security.W002",
    "security.W003",
    "axes.W002",
]

# django-axes first: it refuses a locked-out user and address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# SQLite under var/ unless DATABASE_URL points elsewhere (PostgreSQL in CI and production).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Behind PgBouncer in transaction pooling mode, server-side cursors (QuerySet.iterator()) break:
# set DATABASE_DISABLE_SERVER_SIDE_CURSORS=true there (docs/scaling.md).
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
    "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # libpq waits forever for an unreachable host by default: fail (503) after a few seconds.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=5)
    )
# The web server (config/gunicorn.conf.py sets DATABASE_POOL=true) takes its connections from
# one psycopg pool per worker process instead of a persistent connection per thread pinged by a
# round trip at the start of every request (CONN_HEALTH_CHECKS, ~5 % of a worker's time): a
# thread borrows a connection for a request and returns it at the end. Sized to the worker's
# threads and its ledger writer (each holds at most one; DATABASE_POOL_MAX_SIZE, default
# GUNICORN_THREADS + 1), so a thread never waits. No ping before use (Django would ping on
# every checkout): a connection the server has closed while idle (a restart, a failover) is
# told by its readable socket, one `poll` with no wait, and the pool swept of the others
# (config/db_postgresql); connections unused for DATABASE_POOL_MAX_IDLE_SECONDS are closed, so
# one cut silently while idle (an idle timeout of a firewall) is rarely handed out, and fails
# the request that uses it (503, as a cut mid-request does).
# Off elsewhere: Celery's prefork children must not inherit a pool (its sockets and its
# maintenance thread) from their parent, and commands need one connection.
# Connections per host: workers x DATABASE_POOL_MAX_SIZE at most (docs/scaling.md).
DATABASE_POOL = env.bool("DATABASE_POOL", default=False)
# How long a request waits for a pooled connection. A thread never waits for another's (see
# above) and a new connection takes milliseconds, so this is what a request waits while the
# database is unreachable before its 503: the pool retries connecting in the background, and
# without this bound every request would hang for it (psycopg_pool's default is 30 s).
DATABASE_POOL_TIMEOUT_SECONDS = env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=2.0)
if DATABASE_POOL and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _threads = env.int("GUNICORN_THREADS", default=16)
    DATABASES["default"]["ENGINE"] = "config.db_postgresql"  # Django's, its pool checked
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # a round trip per checkout otherwise
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=0),
        # One more than the threads: the ledger writer's (usage/services/ledger_writer.py).
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=_threads + 1),
        "timeout": DATABASE_POOL_TIMEOUT_SECONDS,
        "max_idle": env.float("DATABASE_POOL_MAX_IDLE_SECONDS", default=60.0),
        "max_lifetime": 3600.0,  # renewed hourly (with jitter)
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The usage ledger's INSERT does not wait for PostgreSQL's WAL flush (usage/services/ledger.py:
# the crash window, and why nothing else is affected).
LEDGER_ASYNC_COMMIT = env.bool("LEDGER_ASYNC_COMMIT", default=True)
# The web server's workers write /v1 and /anthropic calls' ledger rows on a thread of their own,
# after the answer (usage/services/ledger_writer.py: the guarantees and the crash window); at
# most LEDGER_WRITE_BEHIND_QUEUE rows wait, beyond that calls write their own rows.
LEDGER_WRITE_BEHIND = env.bool("LEDGER_WRITE_BEHIND", default=True)
LEDGER_WRITE_BEHIND_QUEUE = env.int("LEDGER_WRITE_BEHIND_QUEUE", default=10_000)

REDIS_URL = env.str("REDIS_URL", default="")


def cache_config(
    redis_url: str,
    file_cache_dir: Path,
    key_prefix: str = "cp",
    *,
    connect_timeout: float | None = None,
    socket_timeout: float | None = None,
) -> dict:
    """Redis when configured; otherwise a file cache, which processes on one machine share.

    Redis connections time out (REDIS_CONNECT_TIMEOUT_SECONDS, REDIS_SOCKET_TIMEOUT_SECONDS), so
    a Redis that goes silent (a partition, a dead host, a firewall dropping packets) fails a
    request with a 503 instead of holding it. Connect: 1 s, far above a LAN handshake (well
    under a millisecond) yet short enough that a request fails fast. Read: 2 s, far above the
    slowest command the hot path sends (a small Lua script or a GET of a few keys: microseconds
    of server time) and above a brief stall of a loaded Redis, and far below the web server's
    worker timeout. A connection reset (Redis restarted, every pooled connection dead) is retried
    once on a new connection; a timeout is not, so a silent Redis costs one timeout per command.
    """
    if redis_url:
        if connect_timeout is None:
            connect_timeout = env.float("REDIS_CONNECT_TIMEOUT_SECONDS", default=1.0)
        if socket_timeout is None:
            socket_timeout = env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=2.0)
        return {
            "default": {
                "BACKEND": "config.cache.PooledRedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": key_prefix,
                "TIMEOUT": 300,
                "OPTIONS": {
                    "socket_connect_timeout": connect_timeout,
                    "socket_timeout": socket_timeout,
                    "connection_error_retries": 1,  # config/cache.py
                },
            }
        }
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(file_cache_dir),
            "KEY_PREFIX": key_prefix,
            "TIMEOUT": 300,
            # The default (300 entries, then a random third culled) would evict live state.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }


CACHES = cache_config(REDIS_URL, VAR_DIR / "cache")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Days for rollups and budget periods are cut in this zone.
BUSINESS_TIME_ZONE = env.str("BUSINESS_TIME_ZONE", default="UTC")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Fernet keys, comma-separated, newest first. The newest encrypts; all of them decrypt.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
SECRET_KEY = env.str("SECRET_KEY", default="")

# Request bodies larger than this are refused with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=2 * 1024 * 1024)

# Hardening at the edge of both APIs (config.hardening; README "Security"). Work per request is
# bounded so no request costs more than milliseconds of CPU before it reaches a provider.
# Deepest nesting of a JSON body (tool schemas rarely pass 10 levels).
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
# Values (objects, arrays, strings, numbers) in one JSON body.
API_MAX_JSON_VALUES = env.int("API_MAX_JSON_VALUES", default=50_000)
# Largest number accepted anywhere in a body (fits every integer column and every SDK).
API_MAX_INTEGER = env.int("API_MAX_INTEGER", default=2_147_483_647)
# Largest max_tokens a request may ask for (the model's own limit is checked at call time).
API_MAX_OUTPUT_TOKENS = env.int("API_MAX_OUTPUT_TOKENS", default=1_000_000)
# Messages, content parts per message, tools and embedding inputs in one request.
API_MAX_MESSAGES = env.int("API_MAX_MESSAGES", default=1000)
API_MAX_CONTENT_PARTS = env.int("API_MAX_CONTENT_PARTS", default=100)
API_MAX_TOOLS = env.int("API_MAX_TOOLS", default=128)
API_MAX_EMBEDDING_INPUTS = env.int("API_MAX_EMBEDDING_INPUTS", default=2048)
# Longest model or service name in a request.
API_MAX_MODEL_NAME_LENGTH = env.int("API_MAX_MODEL_NAME_LENGTH", default=256)
# Largest page size (`limit`) of any list endpoint.
API_PAGINATION_MAX_LIMIT = env.int("API_PAGINATION_MAX_LIMIT", default=500)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Consumer keys first: its WWW-Authenticate header makes anonymous requests a 401.
        "providers.api.authentication.ConsumerKeyAuthentication",
        "providers.api.authentication.StaffTokenAuthentication",
        "providers.api.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.hardening.BoundedLimitOffsetPagination",
    "DEFAULT_PARSER_CLASSES": [
        "config.hardening.JSONParser",
        "config.hardening.FormParser",
        "config.hardening.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Staff API tokens (`manage.py create_staff_token`): knox keeps only a SHA-512 digest of each
# token. They expire after TOKEN_TTL and are never extended by use, so a leaked token dies.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("STAFF_TOKEN_TTL_DAYS", default=30)),
    "AUTO_REFRESH": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LLM provider control plane API",
    "DESCRIPTION": (
        "Providers, models, per-service model selection, chat and usage.\n\n"
        "**Authentication.** Programs send a consumer API key (admin *Consumer API keys*, or "
        "`manage.py create_api_key`) as `Authorization: Bearer <key>` or `X-Api-Key: <key>`: "
        "it may hold conversations, list `/api/models/available/` and read models and "
        "selections, limited to the services and models the key lists. Staff scripts send "
        "`Authorization: Token <token>` (`manage.py create_staff_token USERNAME`); the staff "
        "endpoints (providers, model and selection changes, usage) also need the matching "
        "Django permissions. In a browser, signing in to the admin is enough (writes need the "
        "CSRF token). The OpenAI-compatible `/v1/` API takes the consumer key as a Bearer "
        'token, as the OpenAI SDK sends it. Errors: `{"error": {"code", "message", '
        '"details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from the installed drf-spectacular-sidecar, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: Swagger UI would fetch it from validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ProviderKindEnum": "providers.models.provider.ProviderKind",
        "ModelKindEnum": "providers.models.catalog.ModelKind",
        "CapabilityEnum": "providers.models.catalog.Capability",
        "RemoteModelKindEnum": ["chat", "embedding", "unknown"],
        "ErrorCodeEnum": "config.error_codes.ERROR_CODE_CHOICES",
    },
}

# Celery: Redis when REDIS_URL is set, else a filesystem broker that processes on one
# machine share, so `make run` really runs scheduled jobs without external services.
# CELERY_BROKER_URL puts the broker on a Redis of its own (no eviction), apart from the cache.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://")):
    # Kombu's default is to wait forever on a silent broker. Connect as the cache does; read:
    # 10 s, well above the 1 s a worker's BRPOP waits server-side (it must never trip on an
    # idle queue), while bounding a publish or an ack on a dead connection. (No result backend:
    # results are ignored.)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT_SECONDS", default=1.0),
        "socket_timeout": 10.0,
    }
elif CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "store_processed": False,
        # Kombu keeps its exchange tables here; its default is `control/` in the working dir.
        "control_folder": str(VAR_DIR / "celery-control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="control-plane@localhost")
# Budget alerts go here; empty means the staff users' addresses.
BUDGET_ALERT_EMAILS = env.list("BUDGET_ALERT_EMAILS", default=[])

# Log lines: "plain" text for people, or "json" (one object per line: production's default).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")


def logging_config(log_format: str) -> dict:
    """LOGGING with the console handler in `log_format`; the redaction filter always on."""
    if log_format not in ("plain", "json"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact_secrets": {"()": "config.logging.RedactSecretsFilter"},
            # A request refused for an outage has logged its one line already (config.outages).
            "outage_line_once": {"()": "config.outages.OutageRequestLineFilter"},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "config.log_format.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["redact_secrets"],
            }
        },
        "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
        "loggers": {
            # One line per request (config/request_context.py); LOG_REQUESTS=false hides it.
            "config.requests": {
                "level": "INFO" if env.bool("LOG_REQUESTS", default=True) else "WARNING"
            },
            # httpx logs every request URL at INFO; Gemini URLs can carry the key.
            "httpx": {"level": "WARNING"},
            "httpx2": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            "django.request": {"filters": ["outage_line_once"]},
        },
    }


LOGGING = logging_config(LOG_FORMAT)

# -- Operations: metrics, traces ---------------------------------------------------------------
# /metrics admits a request bearing this token, or one from these networks that did not come
# through a proxy (config/metrics_view.py). Empty token: networks only.
METRICS_BEARER_TOKEN = env.str("METRICS_BEARER_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
# Gauges computed from shared state at scrape time.
METRICS_COLLECTORS = ["chat.metrics.CircuitCollector", "usage.metrics.BudgetCollector"]
# OpenTelemetry traces (needs `pip install .[otel]`); the exporter reads the standard OTEL_*
# variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, ...).
TRACING_ENABLED = env.bool("TRACING_ENABLED", default=False)

# Call runtime: retries with exponential backoff (full jitter) within a total time budget,
# and a per-provider circuit breaker shared through the cache.
RUNTIME_RETRY_BASE_SECONDS = env.float("RUNTIME_RETRY_BASE_SECONDS", default=0.5)
RUNTIME_RETRY_MAX_SECONDS = env.float("RUNTIME_RETRY_MAX_SECONDS", default=8.0)
RUNTIME_TOTAL_TIMEOUT_SECONDS = env.float("RUNTIME_TOTAL_TIMEOUT_SECONDS", default=120.0)
# Output tokens assumed for admission when a request sets no max_tokens.
RUNTIME_DEFAULT_MAX_OUTPUT_TOKENS = env.int("RUNTIME_DEFAULT_MAX_OUTPUT_TOKENS", default=4096)
# During a Redis or database outage each refused request logs one line; the traceback of a
# given error type is logged at most once per this many seconds (per process).
RUNTIME_OUTAGE_TRACEBACK_INTERVAL_SECONDS = env.float(
    "RUNTIME_OUTAGE_TRACEBACK_INTERVAL_SECONDS", default=60.0
)
CIRCUIT_BREAKER_FAILURES = env.int("CIRCUIT_BREAKER_FAILURES", default=5)
CIRCUIT_BREAKER_OPEN_SECONDS = env.float("CIRCUIT_BREAKER_OPEN_SECONDS", default=30.0)
# Model groups (chat.runtime.routing): weight of the newest sample in a member's moving
# average of latency (lowest_latency strategy).
ROUTING_LATENCY_ALPHA = env.float("ROUTING_LATENCY_ALPHA", default=0.2)

# The /v1/responses API keeps each stored response (store=true, the default) this many days so
# that previous_response_id can continue it; a daily schedule deletes the expired ones.
RESPONSES_RETENTION_DAYS = env.int("RESPONSES_RETENTION_DAYS", default=30)
# Largest stored conversation (JSON bytes: earlier turns, input and output) a response may
# continue: each continuation stores the whole conversation again, so this bounds a row.
RESPONSES_MAX_CONVERSATION_BYTES = env.int(
    "RESPONSES_MAX_CONVERSATION_BYTES", default=16 * 1024 * 1024
)

# Request logs (chat.request_logs): kept only for services whose selection sets
# request_log_days. Every string of a logged request and response is scrubbed of credential
# shapes (config.logging.redact), then each of these regular expressions is replaced by
# [REDACTED]. The default covers e-mail addresses, API keys (sk-/pk-/rk-, AWS, GitHub, Slack,
# Google), JSON web tokens and bearer tokens. Set the variable to a JSON list to replace it.
REQUEST_LOG_REDACT_PATTERNS = env.json(
    "REQUEST_LOG_REDACT_PATTERNS",
    default=[
        r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}",
        r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{8,}",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"\bgh[pousr]_[A-Za-z0-9]{20,}",
        r"\bxox[abprs]-[A-Za-z0-9\-]{10,}",
        r"\bAIza[A-Za-z0-9_\-]{20,}",
        r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+",
        r"(?i)\bbearer\s+[A-Za-z0-9._\-~+/=]{8,}",
    ],
)
# A request or response larger than this (JSON bytes, before compression) is cut to it.
REQUEST_LOG_MAX_BYTES = env.int("REQUEST_LOG_MAX_BYTES", default=1_000_000)

# Governance: the audit trail (config.audit), roles and the second factor (config.access).
# Events older than this many days are deleted daily by the "audit: apply retention" schedule;
# 0 keeps them forever.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=400)
AUDIT_EXPORT_MAX_ROWS = env.int("AUDIT_EXPORT_MAX_ROWS", default=100_000)
AUDIT_ADMIN_PATH_PREFIX = "/admin/"
AUDIT_API_PATH_PREFIXES = ["/api/", "/v1/", "/anthropic/"]
# Fields reported only as "set", "changed" or "cleared" (every encrypted field is, too).
AUDIT_SECRET_FIELDS = [
    "password", "api_key", "extra_headers", "hashed_key", "digest", "key", "token", "secret",
]  # fmt: skip
# Tracked models and, for each, the fields whose changes are bookkeeping, not configuration.
# Model selections are recorded from their own history (providers.SelectionChange).
_TIMESTAMPS = ["created_at", "updated_at"]
AUDIT_MODELS: dict[str, list[str]] = {
    "providers.ProviderConfig": [
        *_TIMESTAMPS, "created_by", "updated_by", "last_check_at", "last_check_ok",
        "last_check_latency_ms", "last_check_message",
    ],
    "providers.ModelConfig": [*_TIMESTAMPS, "last_seen_at"],
    "providers.ModelPrice": [*_TIMESTAMPS],
    "providers.ConsumerAPIKey": ["created", "last_used_at"],
    "usage.Budget": _TIMESTAMPS,
    "usage.RateLimit": _TIMESTAMPS,
    "knox.AuthToken": ["created"],
    "auth.User": ["last_login", "date_joined"],
    "auth.Group": [],
    "django_celery_beat.PeriodicTask": ["last_run_at", "total_run_count", "date_changed"],
    "django_celery_beat.IntervalSchedule": [],
    "django_celery_beat.CrontabSchedule": [],
    "otp_totp.TOTPDevice": [
        "created_at", "last_used_at", "last_t", "drift", "throttling_failure_timestamp",
        "throttling_failure_count",
    ],
    "otp_static.StaticDevice": [
        "created_at", "last_used_at", "throttling_failure_timestamp", "throttling_failure_count",
    ],
}  # fmt: skip

# Models whose primary key is itself a secret, named in events by another field instead.
AUDIT_OBJECT_ID_FIELDS = {"knox.AuthToken": "token_key"}

# Second factor (django-otp): the issuer shown in authenticator apps, and recovery codes.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="LLM control plane")
MFA_RECOVERY_CODE_COUNT = 10
MFA_RECOVERY_CODE_BYTES = 5  # 10 hex characters each

# Sign-in lockout (django-axes): after this many failures for one username from one address,
# that pair is refused (HTTP 429) until the cool-off passes or an administrator unlocks it
# (admin: Users -> "Unlock sign-in"). A success clears the count.
AXES_FAILURE_LIMIT = env.int("SIGNIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SIGNIN_LOCKOUT_MINUTES", default=60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Masked in axes' logs and in the request data it stores with each failed attempt.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "csrfmiddlewaretoken"]

# Provider base URLs: loopback, private and reserved networks receive provider keys only when
# listed here (comma-separated CIDRs, e.g. "127.0.0.1/32,10.20.0.0/16" for a local Ollama).
# Link-local and cloud metadata addresses are refused whatever this lists.
PROVIDER_ALLOWED_NETWORKS = env.list("PROVIDER_ALLOWED_NETWORKS", default=[])
# What the local and test settings allow: loopback and the private ranges.
LOCAL_PROVIDER_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)
# "Test these settings" (before saving) waits at most this long for the provider.
PROVIDER_SETTINGS_TEST_TIMEOUT_SECONDS = env.float(
    "PROVIDER_SETTINGS_TEST_TIMEOUT_SECONDS", default=15.0
)
