"""The API edge on /anthropic (config.hardening, config.views): hostile requests refused
before any view are 4xx in Anthropic's error shape, like /v1's in OpenAI's."""

import pytest

from providers.consumers import consumer_key_create
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.hostile import deep

pytestmark = pytest.mark.django_db
URL = "/anthropic/v1/messages"


@pytest.fixture
def secret(openai_fake) -> str:
    selection_set("svc", model_create(provider_create(openai_fake, slug="oa", kind="openai"), "m"))
    return consumer_key_create(name="edge")[1]


def anthropic_error(response, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == error_type
    return body["error"]


def test_unknown_path_and_nul_in_the_path_are_404(client, secret):
    anthropic_error(client.get("/anthropic/v1/complete"), 404, "not_found_error")
    anthropic_error(client.get("/anthropic/v1/models%00"), 404, "not_found_error")


def test_nul_in_a_header_and_a_bad_host_are_400(client, secret):
    response = client.get("/anthropic/v1/models", HTTP_X_API_KEY="abc.\x00")
    assert "header" in anthropic_error(response, 400, "invalid_request_error")["message"]
    response = client.post(URL, data={}, content_type="application/json", HTTP_HOST="evil.x")
    anthropic_error(response, 400, "invalid_request_error")
    assert response["x-error-code"] == "invalid_host"


@pytest.mark.parametrize(
    "raw",
    [
        deep(5000, "["),
        '{"model": "svc", "max_tokens": 1e999, "messages": []}',
        '{"model": "svc", "max_tokens": NaN, "messages": []}',
        '{"model": "svc\\u0000", "max_tokens": 5, "messages": []}',
        '{"model": "svc", "max_tokens": 5, "messages": [{"role": "user", "content": "\\ud800"}]}',
    ],
)
def test_hostile_bodies_are_400(client, secret, raw):
    response = client.post(URL, data=raw, content_type="application/json", HTTP_X_API_KEY=secret)
    anthropic_error(response, 400, "invalid_request_error")


def test_options_and_wrong_methods_are_never_5xx(client, secret):
    for path in (URL, URL + "/count_tokens", "/anthropic/v1/models", "/anthropic/v1/models/x"):
        assert client.options(path, HTTP_X_API_KEY=secret).status_code < 500
    response = client.get(URL, HTTP_X_API_KEY=secret)
    anthropic_error(response, 405, "invalid_request_error")
