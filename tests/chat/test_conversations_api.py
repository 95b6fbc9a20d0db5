"""The native conversation API: ownership, replies as JSON and as server-sent events,
history trimming to the context window, and bad input as 4xx in the project's error shape."""

import json

import pytest

from chat.models import Conversation, Message
from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set, use_models_grant
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db
BASE = "/api/conversations/"


@pytest.fixture
def service(openai_fake):
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("assistant", model)
    return model


@pytest.fixture
def user_client(client, django_user_model):
    user = use_models_grant(
        django_user_model.objects.create_user(
            username="alice", password="pw-alice-123", is_staff=True
        )
    )
    client.force_login(user)
    client.user = user
    return client


def post_json(client, url, body, **extra):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", **extra)


def sse_events(response) -> list[tuple[str, dict]]:
    text = b"".join(response.streaming_content).decode()
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines.get("event", "message"), json.loads(lines["data"])))
    return events


def test_create_list_retrieve_delete(user_client, service):
    response = post_json(user_client, BASE, {"service": "assistant", "system_prompt": "Be brief."})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["service"] == "assistant"
    assert [m["role"] for m in created["messages"]] == ["system"]
    listed = user_client.get(BASE).json()
    assert [c["id"] for c in listed["results"]] == [created["id"]]
    detail = user_client.get(f"{BASE}{created['id']}/")
    assert detail.status_code == 200
    assert user_client.delete(f"{BASE}{created['id']}/").status_code == 204
    assert not Conversation.objects.exists()


def test_reply_as_json_links_the_usage_record(user_client, service, openai_fake):
    conversation = post_json(user_client, BASE, {"service": "assistant"}).json()
    response = post_json(
        user_client, f"{BASE}{conversation['id']}/messages/", {"content": "What is up?"}
    )
    assert response.status_code == 201, response.content
    reply = response.json()
    assert reply["role"] == "assistant"
    assert "What is up?" in reply["content"]
    assert reply["model_string"] == "oa:gpt-4o-mini"
    record = UsageRecord.objects.get()
    assert reply["usage_record_id"] == record.pk
    assert record.conversation_id == conversation["id"]
    assert record.user_id == user_client.user.pk
    assert reply["cost"] is not None and reply["prompt_tokens"] > 0
    assert response["x-served-model"] == "oa:gpt-4o-mini"
    # the second turn sends the whole history
    post_json(user_client, f"{BASE}{conversation['id']}/messages/", {"content": "And then?"})
    sent = openai_fake.last_request().body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert Conversation.objects.get().title == "What is up?"


def test_reply_as_server_sent_events(user_client, service):
    conversation = post_json(user_client, BASE, {"service": "assistant"}).json()
    response = post_json(
        user_client, f"{BASE}{conversation['id']}/messages/?stream=true", {"content": "Stream!"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    events = sse_events(response)
    assert events[0][0] == "start" and events[0][1]["model"] == "oa:gpt-4o-mini"
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert "Stream!" in text
    name, done = events[-1]
    assert name == "done"
    assert done["message"]["content"] == text
    assert done["usage"]["total_tokens"] > 0 and done["cost"] is not None
    stored = Message.objects.filter(role="assistant").get()
    assert stored.content == text and stored.usage_record.streamed


def test_stream_error_ends_with_an_error_event(user_client, service, openai_fake):
    conversation = post_json(user_client, BASE, {"service": "assistant"}).json()
    openai_fake.faults.cut_stream_after = 3
    response = post_json(
        user_client, f"{BASE}{conversation['id']}/messages/?stream=true", {"content": "Cut me"}
    )
    events = sse_events(response)
    name, data = events[-1]
    assert name == "error"
    assert data["error"]["code"] == "provider_stream_interrupted"
    assert not Message.objects.filter(conversation_id=conversation["id"]).exists()
    assert UsageRecord.objects.get().outcome == "provider_stream_interrupted"


def test_history_is_trimmed_to_the_context_window(user_client, openai_fake):
    model = model_create(
        provider_create(openai_fake, slug="oa", kind="openai"),
        "gpt-4o-mini",
        context_window=300,
        max_output_tokens=50,
    )
    selection_set("assistant", model)
    conversation = post_json(
        user_client, BASE, {"service": "assistant", "system_prompt": "SYSTEM RULES"}
    ).json()
    url = f"{BASE}{conversation['id']}/messages/"
    for turn in range(4):
        response = post_json(user_client, url, {"content": f"turn{turn} " + "word " * 80})
        assert response.status_code == 201, response.content
    sent = openai_fake.last_request().body["messages"]
    assert sent[0] == {"role": "system", "content": "SYSTEM RULES"}
    texts = [m["content"] for m in sent if m["role"] == "user"]
    assert texts[-1].startswith("turn3")
    assert not any(t.startswith("turn0") for t in texts)
    assert len(sent) < 1 + 2 * 4  # older turns were dropped
    assert Message.objects.filter(role="user").count() == 4  # but all are kept


def test_conversations_are_private_to_their_owner(user_client, service, client, django_user_model):
    conversation = post_json(user_client, BASE, {"service": "assistant"}).json()
    other = use_models_grant(
        django_user_model.objects.create_user(
            username="bob", password="pw-bob-12345", is_staff=True
        )
    )
    user_client.force_login(other)
    assert user_client.get(f"{BASE}{conversation['id']}/").status_code == 404
    assert user_client.get(BASE).json()["results"] == []
    response = post_json(user_client, f"{BASE}{conversation['id']}/messages/", {"content": "x"})
    assert response.status_code == 404


def test_consumer_key_owns_its_conversations(client, service):
    _, secret = ConsumerAPIKey.objects.create_key(name="prog", allowed_services=["assistant"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    conversation = post_json(client, BASE, {"service": "assistant"}, **auth)
    assert conversation.status_code == 201
    reply = post_json(
        client, f"{BASE}{conversation.json()['id']}/messages/", {"content": "hi"}, **auth
    )
    assert reply.status_code == 201
    assert UsageRecord.objects.get().api_key_id is not None
    denied = post_json(client, BASE, {"service": "other"}, **auth)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"


def test_anonymous_is_401(client, service):
    assert client.get(BASE).status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"service": ""}, 400),
        ({"service": "no-such-service"}, 404),
        ({"service": "bad:model:string"}, 400),
        ("{not json", 400),
        ([1], 400),
    ],
)
def test_bad_conversation_input(user_client, service, body, status):
    response = post_json(user_client, BASE, body)
    assert response.status_code == status, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize(
    "body",
    [{}, {"content": ""}, {"content": None}, {"content": [{"type": "video"}]}, {"content": 5}],
)
def test_bad_message_input(user_client, service, body):
    conversation = post_json(user_client, BASE, {"service": "assistant"}).json()
    response = post_json(user_client, f"{BASE}{conversation['id']}/messages/", body)
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert not Message.objects.exists()


def test_oversized_message_is_413(user_client, service, settings):
    conversation = post_json(user_client, BASE, {"service": "assistant"}).json()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    response = post_json(
        user_client, f"{BASE}{conversation['id']}/messages/", {"content": "x" * 2000}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_provider_failure_is_a_clean_error_and_no_half_turn(user_client, service, openai_fake):
    conversation = post_json(user_client, BASE, {"service": "assistant"}).json()
    openai_fake.faults.status = 500
    response = post_json(user_client, f"{BASE}{conversation['id']}/messages/", {"content": "x"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "provider_unavailable"
    # The answer names the call so support can find its attempts in the ledger.
    request_id = error["details"]["request_id"]
    assert UsageRecord.objects.filter(request_id=request_id, outcome="provider_unavailable")
    assert not Message.objects.exists()
