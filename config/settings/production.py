"""Production settings: every secret and every backing service comes from the environment.

Nothing here has a silent fallback. A production process must refuse to start rather than run
on SQLite or a per-process cache: rate limits, budgets' fast path, circuit breakers and the
cached consumer keys and selections are shared state, and only PostgreSQL and Redis share them
across the processes and hosts that serve the same organisation.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    DATABASES,
    DEFAULT_FROM_EMAIL,
    REDIS_URL,
    VAR_DIR,
    cache_config,
    env,
    logging_config,
)


def _required(name: str, why: str) -> str:
    """The variable's value; missing and blank are refused alike (an empty `.env` line)."""
    value = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production: {why}")
    return value


def _required_list(name: str, why: str) -> list[str]:
    """A comma-separated variable as a list; refused when it holds no item."""
    items = [item.strip() for item in env.str(name, default="").split(",") if item.strip()]
    if not items:
        raise ImproperlyConfigured(f"{name} must be set in production: {why}")
    return items


DEBUG = False
SECRET_KEY = _required("SECRET_KEY", "Django signs sessions and tokens with it.")
FIELD_ENCRYPTION_KEYS = _required_list(
    "FIELD_ENCRYPTION_KEYS", "Fernet keys, newest first; they decrypt the stored provider keys."
)
ALLOWED_HOSTS = _required_list("DJANGO_ALLOWED_HOSTS", "the host names this service answers to.")

# -- Database: PostgreSQL only ---------------------------------------------------------------
_required("DATABASE_URL", "a PostgreSQL URL such as postgres://user:password@host:5432/dbname.")
_engine = DATABASES["default"].get("ENGINE", "")  # parsed by base.py
if _engine == "django.db.backends.sqlite3":
    raise ImproperlyConfigured(
        "DATABASE_URL points at SQLite, which production refuses: budgets lock rows across "
        "processes and hosts, and SQLite cannot share them. Use postgres://..."
    )
if _engine not in ("django.db.backends.postgresql", "config.db_postgresql"):  # pooled: base.py
    raise ImproperlyConfigured(
        "DATABASE_URL must be a PostgreSQL URL (postgres://...), the only database this "
        "project is tested on besides SQLite."
    )

# -- Redis: the shared cache and the Celery broker -------------------------------------------
_required(
    "REDIS_URL",
    "rate limits, budgets' fast path, circuit breakers and caches are shared through Redis "
    "(redis://host:6379/0), and it is the Celery broker.",
)
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL must be a redis://, rediss:// or unix:// URL.")
# A prefix of its own lets two deployments (or a benchmark) share one Redis database safely.
CACHES = cache_config(
    REDIS_URL,
    VAR_DIR / "cache",
    key_prefix=env.str("CACHE_KEY_PREFIX", default="cp"),
)

# -- Static files: `manage.py collectstatic` writes here; the TLS proxy serves /static/ ------
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names, so the proxy can cache them forever; needs collectstatic before start.
    "staticfiles": {"BACKEND": "config.storage.ManifestStaticStorage"},
}

# -- HTTPS behind a TLS-terminating proxy ----------------------------------------------------
# The proxy must set X-Forwarded-Proto itself and drop any value a client sent.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers probe the workers directly over plain HTTP: a redirect would fail the probe.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
X_FRAME_OPTIONS = "DENY"

# -- Logs: one JSON object per line (LOG_FORMAT=plain for text) -------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_config(LOG_FORMAT)

# Django's own error mails (500s) come from this address.
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
