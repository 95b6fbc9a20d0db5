"""/livez (the process answers) and /readyz (database, Redis, migrations, broker)."""

import socket

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from config import health
from config.celery import app

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


UNREACHABLE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://:cache-pass-123@127.0.0.1:{closed_port()}/0",
    }
}


@pytest.fixture(autouse=True)
def migrations_unknown(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


def cache_name(settings) -> str:
    return "redis" if settings.REDIS_URL else "cache"


def test_ready_when_everything_answers(client, settings):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert health._migrations_applied  # remembered: the next probe does not load the graph


def test_live_checks_no_dependency(client):
    with override_settings(CACHES=UNREACHABLE_CACHE):
        assert client.get("/livez").json() == {"status": "ok"}
        assert client.get("/healthz").status_code == 503
    assert client.post("/livez").status_code == 405


def test_not_ready_names_what_failed(client, settings, caplog):
    with override_settings(CACHES=UNREACHABLE_CACHE):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["details"] == {
        "database": "ok",
        cache_name(settings): "unavailable",
        "migrations": "ok",
        "broker": "ok",
    }
    assert "cache-pass-123" not in response.content.decode() + caplog.text


def test_unreachable_broker(client, settings):
    original = app.conf.broker_url
    port = closed_port()
    app.conf.broker_url = f"redis://:broker-pass-9@127.0.0.1:{port}/0"
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["error"]["details"]["broker"] == "unavailable"
    assert (
        "broker-pass-9" not in response.content.decode()
        and str(port) not in response.content.decode()
    )


def test_unapplied_migrations(client):
    recorder = MigrationRecorder(connection)
    latest = recorder.migration_qs.filter(app="usage").order_by("-id").first()
    latest.delete()  # rolled back with the test's transaction
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["migrations"] == "pending"
    assert not health._migrations_applied
