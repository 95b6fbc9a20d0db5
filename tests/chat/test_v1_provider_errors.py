"""What consumers are told when a provider fails: the mapped code, a short generic message and
the request id, never the provider's text. What staff keep (UsageRecord.error_message) is the
provider's text scrubbed of the key in every form the upstream echoed it in."""

import json

import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set, use_models_grant
from tests.providers.keys.test_scrubbing import HostileOpenAI, assert_clean
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def hostile():
    server = HostileOpenAI().start()
    server.faults.status = 500
    yield server
    server.stop()


@pytest.fixture
def key(hostile):
    model = model_create(
        provider_create(hostile, slug="hx", kind="openai", max_retries=0), "gpt-4o-mini"
    )
    selection_set("svc", model)
    _, secret = ConsumerAPIKey.objects.create_key(name="c")
    return secret


def post(client, key, **body):
    return client.post(
        "/v1/chat/completions",
        data=json.dumps({"model": "svc", "messages": HELLO, **body}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def test_v1_error_is_generic_with_code_and_request_id(client, key, hostile):
    response = post(client, key)
    assert response.status_code == 503
    error = response.json()["error"]
    request_id = response["x-request-id"]
    assert error["code"] == "provider_unavailable"
    assert error["message"] == f"The provider is unavailable. (request id {request_id})"
    assert "internal service says" not in response.content.decode()
    record = UsageRecord.objects.get(request_id=request_id)
    assert "internal service says" in record.error_message  # kept for staff...
    assert_clean(record.error_message, hostile.api_key)  # ...without the key in any form


def test_v1_stream_error_event_is_generic_with_the_request_id(client, key, hostile):
    response = post(client, key, stream=True)
    if response.status_code != 200:  # failed before the first byte: a plain error answer
        text = response.content.decode()
    else:
        text = b"".join(response.streaming_content).decode()
    assert "internal service says" not in text
    assert response["x-request-id"] in text
    assert_clean(text, hostile.api_key)


def test_native_api_error_is_generic(client, key, hostile, django_user_model):
    user = django_user_model.objects.create_user(
        username="u", password="pw-u-1234567", is_staff=True
    )
    client.force_login(use_models_grant(user))  # the API is for staff who may spend
    created = client.post(
        "/api/conversations/", data={"service": "svc"}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    answer = client.post(
        f"/api/conversations/{created.json()['id']}/messages/",
        data={"content": "hi"},
        content_type="application/json",
    )
    error = answer.json()["error"]
    assert answer.status_code == 503 and error["code"] == "provider_unavailable"
    assert error["message"] == "The provider is unavailable."
    assert set(error["details"]) <= {"provider", "upstream_status", "request_id"}
    assert "internal service says" not in answer.content.decode()
