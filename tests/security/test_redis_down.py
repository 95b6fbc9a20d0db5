"""With Redis unreachable, programs get a quick JSON 503 with a code they can retry on, never an
HTML page, a bare 500 or a hang."""

import json
import time

import pytest
from django.test import override_settings

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set

DOWN_URL = "redis://127.0.0.1:6390/0"  # nothing listens here
DOWN_CACHES = {
    "default": {
        "BACKEND": "config.cache.PooledRedisCache",
        "LOCATION": DOWN_URL,
        "KEY_PREFIX": "redis-down",
    }
}


@pytest.fixture
def secret(db, openai_fake) -> str:
    selection_set("svc", model_create(provider_create(openai_fake, slug="oa", kind="openai"), "m"))
    return ConsumerAPIKey.objects.create_key(name="program")[1]


@pytest.fixture
def redis_down():
    with override_settings(CACHES=DOWN_CACHES, REDIS_URL=DOWN_URL):
        yield


def _chat(client, secret: str, **extra):
    body = {"model": "svc", "messages": [{"role": "user", "content": "hi"}], **extra}
    return client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("stream", [False, True])
def test_v1_chat_answers_an_openai_shaped_503(client, secret, redis_down, stream):
    started = time.monotonic()
    response = _chat(client, secret, stream=stream)
    assert time.monotonic() - started < 5
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "1"
    error = response.json()["error"]
    assert error["code"] == "service_unavailable" and error["type"] == "server_error"
    assert "6390" not in error["message"]  # no infrastructure details for callers


@pytest.mark.django_db
def test_models_available_answers_a_503(client, secret, redis_down):
    response = client.get("/api/models/available/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "service_unavailable"


@pytest.mark.django_db
def test_the_outage_is_logged_for_operators(client, secret, redis_down, caplog):
    _chat(client, secret)
    logged = [r for r in caplog.records if r.name == "config.outages"]
    assert logged and "ConnectionError" in logged[0].getMessage()
    # The traceback goes with it (rendered, and redacted, by the console handler's filter).
    traceback = logged[0].exc_text or ""
    assert logged[0].exc_info is not None or "Connection refused" in traceback
