"""What a continued response sends upstream: the instructions of this request only (OpenAI
does not carry them over), then the stored turns, then the new input."""

import json

import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(openai_fake):
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("svc", model)
    return ConsumerAPIKey.objects.create_key(name="c")[1]


def create(client, secret, **body):
    response = client.post(
        "/v1/responses",
        data=json.dumps({"model": "svc", **body}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_instructions_are_not_carried_over(client, secret, openai_fake):
    first = create(client, secret, input="one", instructions="Speak French.")
    assert openai_fake.requests[-1].body["messages"][0] == {
        "role": "system",
        "content": "Speak French.",
    }
    second = create(
        client, secret, input="two", instructions="Speak German.", previous_response_id=first["id"]
    )
    sent = openai_fake.requests[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in sent] == [
        ("system", "Speak German."),
        ("user", "one"),
        ("assistant", first["output"][0]["content"][0]["text"]),
        ("user", "two"),
    ]
    assert second["previous_response_id"] == first["id"]
    third = create(client, secret, input="three", previous_response_id=second["id"])
    roles = [m["role"] for m in openai_fake.requests[-1].body["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert third["instructions"] is None


def test_truncation_auto_drops_the_oldest_turns_to_fit(client, openai_fake):
    small = model_create(
        provider_create(openai_fake, slug="sm", kind="openai"),
        "gpt-4o-mini",
        context_window=300,
        max_output_tokens=50,
    )
    selection_set("small", small)
    secret = ConsumerAPIKey.objects.create_key(name="t")[1]
    previous = None
    for turn in range(4):
        body = {"model": "small", "input": f"turn{turn} " + "word " * 80, "truncation": "auto"}
        if previous:
            body["previous_response_id"] = previous
        previous = create(client, secret, **body)["id"]
    sent = openai_fake.last_request().body["messages"]
    texts = [m["content"] for m in sent if m["role"] == "user"]
    assert texts[-1].startswith("turn3") and not any(t.startswith("turn0") for t in texts)
    refused = client.post(
        "/v1/responses",
        data=json.dumps({"model": "small", "input": "more", "previous_response_id": previous}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert refused.status_code == 400, refused.content  # truncation disabled: does not fit
    assert refused.json()["error"]["code"] == "context_length_exceeded"
