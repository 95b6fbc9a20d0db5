"""config.settings.production refuses to start without its secrets and backing services.

Each case imports the settings in a fresh interpreter with a controlled environment, as a
deployment would. A "missing" variable is mostly set to the empty string: base.py reads the
git-ignored .env without overwriting what the environment has, so a developer's .env cannot
fill the gap. (DATABASE_URL is the exception: base.py cannot parse an empty one, so it is
removed instead, and that case is skipped when a .env defines it.)
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from tests.fixtures import requires_postgres, requires_redis

REPO = Path(__file__).resolve().parent.parent
VALID = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "prod-" + "x" * 60,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DJANGO_ALLOWED_HOSTS": "cp.example.com",
    "DATABASE_URL": "postgres://cp:db-password-123@db.internal:5432/cp",
    "REDIS_URL": "redis://cache.internal:6379/0",
}
# Optional variables, removed from the environment so that their defaults apply.
OPTIONAL = (
    "CACHE_KEY_PREFIX",
    "STATIC_ROOT",
    "SECURE_SSL_REDIRECT",
    "DATABASE_CONNECT_TIMEOUT_SECONDS",
    "REDIS_CONNECT_TIMEOUT_SECONDS",
    "REDIS_SOCKET_TIMEOUT_SECONDS",
)
SHOW_SETTINGS = """
import json
from django.conf import settings
db, cache = settings.DATABASES["default"], settings.CACHES["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "ENGINE": db["ENGINE"], "DB_NAME": db["NAME"], "CONN_MAX_AGE": db["CONN_MAX_AGE"],
    "CONNECT_TIMEOUT": db["OPTIONS"]["connect_timeout"],
    "CACHE_BACKEND": cache["BACKEND"], "CACHE_LOCATION": cache["LOCATION"],
    "KEY_PREFIX": cache["KEY_PREFIX"], "SOCKET_TIMEOUT": cache["OPTIONS"]["socket_timeout"],
    "BROKER": settings.CELERY_BROKER_URL,
    "STATIC_ROOT": str(settings.STATIC_ROOT),
    "STATICFILES": settings.STORAGES["staticfiles"]["BACKEND"],
    "SSL_HEADER": list(settings.SECURE_PROXY_SSL_HEADER),
    "SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "REDIRECT_EXEMPT": settings.SECURE_REDIRECT_EXEMPT,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "KEYS": len(settings.FIELD_ENCRYPTION_KEYS),
}))
"""


def run(
    args: list[str], *, unset: tuple[str, ...] = (), **overrides: str
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in VALID and k not in OPTIONAL}
    env = {k: v for k, v in (env | VALID | overrides).items() if k not in unset}
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def production_settings(
    *, unset: tuple[str, ...] = (), **overrides: str
) -> subprocess.CompletedProcess:
    return run(["-c", SHOW_SETTINGS], unset=unset, **overrides)


def test_a_complete_environment_gives_the_production_configuration(tmp_path):
    result = production_settings(
        STATIC_ROOT=str(tmp_path / "static"),
        CACHE_KEY_PREFIX="cp-eu",
        FIELD_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()}",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown == {
        "DEBUG": False,
        "ENGINE": "django.db.backends.postgresql",
        "DB_NAME": "cp",
        "CONN_MAX_AGE": 60,
        "CONNECT_TIMEOUT": 5,
        "CACHE_BACKEND": "config.cache.PooledRedisCache",
        "CACHE_LOCATION": "redis://cache.internal:6379/0",
        "KEY_PREFIX": "cp-eu",
        "SOCKET_TIMEOUT": 2.0,
        "BROKER": "redis://cache.internal:6379/0",
        "STATIC_ROOT": str(tmp_path / "static"),
        "STATICFILES": "config.storage.ManifestStaticStorage",
        "SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SSL_REDIRECT": True,
        "REDIRECT_EXEMPT": [r"^healthz$", r"^livez$", r"^readyz$", r"^metrics$"],
        "ALLOWED_HOSTS": ["cp.example.com"],
        "KEYS": 2,
    }


def test_defaults_for_the_optional_variables():
    result = production_settings(DATABASE_URL="postgres://cp@db.internal:5432/cp?connect_timeout=9")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["KEY_PREFIX"] == "cp"
    assert shown["STATIC_ROOT"] == str(REPO / "var" / "static")
    assert shown["CONNECT_TIMEOUT"] == 9  # a timeout in the URL wins


BLANKS = [
    (name, blank)
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DJANGO_ALLOWED_HOSTS", "REDIS_URL")
    for blank in ("", "   ")
] + [("FIELD_ENCRYPTION_KEYS", " , "), ("DJANGO_ALLOWED_HOSTS", ",")]


@pytest.mark.parametrize(("name", "blank"), BLANKS)
def test_a_missing_variable_is_refused_by_name(name, blank):
    result = production_settings(**{name: blank})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be set in production" in result.stderr


@pytest.mark.parametrize("name", ["DATABASE_URL", "REDIS_URL"])
def test_an_unset_backing_service_is_refused_rather_than_defaulted(name):
    dotenv = REPO / ".env"
    if dotenv.exists() and f"{name}=" in dotenv.read_text():
        pytest.skip(f"the .env file defines {name}")
    result = production_settings(unset=(name,))
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be set in production" in result.stderr


def test_sqlite_is_refused_with_the_reason():
    result = production_settings(DATABASE_URL="sqlite:////srv/cp/db.sqlite3")
    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL points at SQLite" in result.stderr
    assert "postgres://" in result.stderr  # says what to use instead


def test_another_database_is_refused_without_echoing_its_password():
    result = production_settings(DATABASE_URL="mysql://cp:hunter2-secret@db.internal/cp")
    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL must be a PostgreSQL URL" in result.stderr
    assert "hunter2-secret" not in result.stderr


def test_a_redis_url_that_is_not_redis_is_refused():
    result = production_settings(REDIS_URL="memcached://cache.internal:11211")
    assert result.returncode != 0
    assert "ImproperlyConfigured: REDIS_URL must be a redis://" in result.stderr


def test_the_deployment_checklist_passes_with_no_warning():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_collectstatic_writes_hashed_files_and_a_manifest(tmp_path):
    root = tmp_path / "static"
    result = run(["manage.py", "collectstatic", "--noinput", "-v", "0"], STATIC_ROOT=str(root))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]
    assert hashed != "admin/css/base.css" and (root / hashed).is_file()


PROBE_OVER_PLAIN_HTTP = """
import django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="cp.example.com")
health, api = client.get("/healthz"), client.get("/v1/models")
print(health.status_code, health.content.decode(), api.status_code, api["Location"])
"""


@requires_postgres
@requires_redis
@pytest.mark.django_db
def test_the_health_check_answers_plain_http_while_everything_else_redirects():
    # A load balancer probes the worker directly, without the proxy's X-Forwarded-Proto.
    conf = connection.settings_dict
    password = f":{quote(conf['PASSWORD'], safe='')}" if conf["PASSWORD"] else ""
    url = (
        f"postgres://{quote(conf['USER'] or '', safe='')}{password}@{conf['HOST'] or '127.0.0.1'}"
        f":{conf['PORT'] or 5432}/{quote(conf['NAME'])}"
    )
    result = run(
        ["-c", PROBE_OVER_PLAIN_HTTP],
        DATABASE_URL=url,
        REDIS_URL=os.environ["REDIS_URL"],
        CACHE_KEY_PREFIX="test-production-probe",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "200",
        '{"status":',
        '"ok"}',
        "301",
        "https://cp.example.com/v1/models",
    ]


POOL_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({"pool": db["OPTIONS"].get("pool"), "age": db["CONN_MAX_AGE"],
                  "checks": db["CONN_HEALTH_CHECKS"], "engine": db["ENGINE"]}))
"""


def test_web_workers_pool_connections_sized_to_their_threads():
    """gunicorn's config sets DATABASE_POOL=true: one pool per worker, a connection per thread
    and one for the ledger writer at most, and no persistent connection or per-request ping
    besides."""
    result = run(["-c", POOL_SETTINGS], DATABASE_POOL="true", GUNICORN_THREADS="24")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["pool"]["max_size"] == 25 and shown["pool"]["min_size"] == 0
    # Lent without a round trip, but never once the server has closed it (a restart).
    assert shown["engine"] == "config.db_postgresql"
    assert (shown["age"], shown["checks"]) == (0, False)
    result = run(["-c", POOL_SETTINGS], unset=("DATABASE_POOL",))  # Celery, commands
    assert json.loads(result.stdout) == {
        "pool": None,
        "age": 60,
        "checks": True,
        "engine": "django.db.backends.postgresql",
    }
