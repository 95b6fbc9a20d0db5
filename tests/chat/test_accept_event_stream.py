"""Streams are served to clients that send `Accept: text/event-stream` (or `*/*`), as SSE
libraries do, on /v1/chat/completions and the conversations API; JSON and errors stay JSON."""

import json

import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set, use_models_grant

pytestmark = pytest.mark.django_db
STREAM_ACCEPTS = ["text/event-stream", "*/*", "text/event-stream, application/json;q=0.5"]


@pytest.fixture
def service(openai_fake):
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("assistant", model)
    return model


@pytest.fixture
def key(db):
    return ConsumerAPIKey.objects.create_key(name="sse-client")[1]


def _v1(client, key, body, accept):
    return client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_ACCEPT=accept,
    )


@pytest.mark.parametrize("accept", STREAM_ACCEPTS)
def test_v1_stream_accepts_event_stream(client, key, service, accept):
    body = {"model": "assistant", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    response = _v1(client, key, body, accept)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    text = b"".join(response.streaming_content).decode()
    assert text.rstrip().endswith("data: [DONE]")
    assert '"chat.completion.chunk"' in text


def test_v1_json_and_errors_stay_json_under_event_stream_accept(client, key, service):
    plain = {"model": "assistant", "messages": [{"role": "user", "content": "Hi"}]}
    response = _v1(client, key, plain, "text/event-stream")
    assert response.status_code == 200
    assert response.json()["object"] == "chat.completion"
    bad = _v1(client, key, {"model": "assistant", "stream": True}, "text/event-stream")
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/json"
    assert bad.json()["error"]["param"] == "messages"


def test_an_unservable_accept_is_still_406(client, key, service):
    body = {"model": "assistant", "messages": [{"role": "user", "content": "Hi"}]}
    assert _v1(client, key, body, "image/png").status_code == 406


@pytest.mark.parametrize("accept", STREAM_ACCEPTS)
def test_conversation_stream_accepts_event_stream(client, django_user_model, service, accept):
    user = use_models_grant(
        django_user_model.objects.create_user(
            username="sse", password="pw-sse-12345", is_staff=True
        )
    )
    client.force_login(user)
    created = client.post(
        "/api/conversations/", {"service": "assistant"}, content_type="application/json"
    )
    assert created.status_code == 201
    response = client.post(
        f"/api/conversations/{created.json()['id']}/messages/?stream=true",
        {"content": "Stream to me"},
        content_type="application/json",
        HTTP_ACCEPT=accept,
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("event: start") and "event: done" in text


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        "*/*",
        "application/json",
        " application/json ",
        "application/json; indent=4",
        "text/event-stream",
        "text/html",
        "application/*",
        "text/event-stream, */*;q=0.1",
    ],
)
@pytest.mark.parametrize("query", ["", "format=json", "format=xml"])
def test_negotiation_answers_as_drfs_own_would(rf, accept, query):
    """The shortcut for plain JSON Accept headers picks what DRF's negotiation picks."""
    from django.http import Http404
    from rest_framework.exceptions import NotAcceptable
    from rest_framework.negotiation import DefaultContentNegotiation
    from rest_framework.renderers import JSONRenderer
    from rest_framework.request import Request

    from chat.negotiation import EventStreamNegotiation

    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(rf.post(f"/v1/chat/completions?{query}" if query else "/", **headers))

    def outcome(negotiation):
        try:
            renderer, media_type = negotiation.select_renderer(request, [JSONRenderer()])
        except (NotAcceptable, Http404) as exc:
            return type(exc)
        return type(renderer), media_type

    ours, drfs = outcome(EventStreamNegotiation()), outcome(DefaultContentNegotiation())
    if drfs is NotAcceptable and accept and "text/event-stream" in accept:
        assert ours == (JSONRenderer, "application/json")  # the stream case, served
    else:
        assert ours == drfs
