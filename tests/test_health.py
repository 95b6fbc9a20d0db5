"""GET /healthz against the real database and cache, and against ones that do not answer."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthy_answers_200_without_credentials(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]  # a proxy must never answer it from cache
    assert cache.get("healthz:probe") == 1  # the cache was really written


def test_head_is_answered_and_writes_are_refused(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_cache_down_answers_503_in_the_error_shape_without_hosts(client, caplog):
    port = closed_port()
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://:cache-pass-123@127.0.0.1:{port}/0",
        }
    }
    with override_settings(CACHES=unreachable):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json() == {
        "error": {
            "code": "service_unavailable",
            "message": "A backing service is unavailable; retry shortly.",
            "details": {"database": "ok", "cache": "unavailable"},
        }
    }
    assert str(port) not in response.content.decode()
    assert "Health check: cache unavailable (ConnectionError)" in caplog.text
    assert str(port) not in caplog.text and "cache-pass-123" not in caplog.text


PROBE = """
import django
django.setup()
from django.test import Client
response = Client(HTTP_HOST="127.0.0.1").get("/healthz")
print(response.status_code, response["Retry-After"], response.content.decode())
"""


def test_database_down_answers_503_naming_no_host_or_user():
    # Another process: this one's database connection is the test database's.
    port = closed_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://dbuser-xyz:db-pass-123@127.0.0.1:{port}/nowhere",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    status, retry_after, body = result.stdout.strip().split(" ", 2)
    assert (status, retry_after) == ("503", "1")
    assert json.loads(body)["error"]["details"] == {"database": "unavailable", "cache": "ok"}
    assert "Health check: database unavailable (OperationalError)" in result.stderr
    for secret_or_host in ("dbuser-xyz", "db-pass-123", "nowhere", str(port)):
        assert secret_or_host not in body
        assert secret_or_host not in result.stderr
