"""/v1/responses errors in OpenAI's shape: a 400 naming the param, 404 for a model or a
response the key cannot see (another key's response is never shown, continued or deleted),
failover with one UsageRecord per attempt, and a stream cut mid-way ending in an error event
that stores nothing."""

import json

import openai
import pytest

from chat.models import StoredResponse
from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.chat.responses_api.conftest import sdk_client
from usage.models import UsageRecord

URL = "/v1/responses"


@pytest.fixture
def chain(openai_fake, anthropic_fake):
    primary = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    fallback = model_create(
        provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
    )
    selection_set("svc", primary, (fallback,))


def post(client, secret, body, url=URL, method="post"):
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    return getattr(client, method)(url, data=data, content_type="application/json", **headers)


def assert_openai_error(response, status, code=None, param=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    assert response["x-request-id"].startswith("req_")
    return error


@pytest.mark.django_db
def test_missing_key_is_401(client, chain):
    error = assert_openai_error(post(client, None, {"model": "svc", "input": "hi"}), 401)
    assert error["code"] == "invalid_api_key"


FUNCTION = {"type": "function", "name": "f", "parameters": {"type": "object"}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "svc"}, "input"),
        ({"model": "svc", "input": ""}, "input"),
        ({"model": "svc", "input": []}, "input"),
        ({"model": "svc", "input": [{"type": "reasoning", "summary": []}]}, "input"),
        ({"model": "svc", "input": ["x"]}, "input[0]"),
        ({"model": "svc", "input": [{"role": "wizard", "content": "x"}]}, "input[0].role"),
        ({"model": "svc", "input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
        (
            {"model": "svc", "input": [{"role": "user", "content": [{"type": "input_file"}]}]},
            "input[0].content[0].type",
        ),
        (
            {"model": "svc", "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "input[0].content[0].image_url",
        ),
        (
            {
                "model": "svc",
                "input": [
                    {
                        "role": "assistant",
                        "content": [{"type": "input_image", "image_url": "https://x/y.png"}],
                    }
                ],
            },
            "input[0].content",
        ),
        ({"model": "svc", "input": [{"role": "user", "content": 5}]}, "input[0].content"),
        (
            {"model": "svc", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
            "input[0].call_id",
        ),
        (
            {"model": "svc", "input": [{"type": "function_call_output", "call_id": "c"}]},
            "input[0].output",
        ),
        (
            {
                "model": "svc",
                "input": [
                    {"type": "function_call_output", "call_id": "c", "output": [{"type": "x"}]}
                ],
            },
            "input[0].output[0]",
        ),
        ({"model": "svc", "input": "hi", "instructions": 3}, "instructions"),
        ({"model": "svc", "input": "hi", "tools": {}}, "tools"),
        ({"model": "svc", "input": "hi", "tools": ["f"]}, "tools[0]"),
        ({"model": "svc", "input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"model": "svc", "input": "hi", "tools": [{"type": "file_search"}]}, "tools[0].type"),
        (
            {"model": "svc", "input": "hi", "tools": [{"type": "function", "function": {}}]},
            "tools[0].name",
        ),
        ({"model": "svc", "input": "hi", "tools": [{**FUNCTION, "name": ""}]}, "tools[0].name"),
        (
            {"model": "svc", "input": "hi", "tools": [{**FUNCTION, "parameters": "x"}]},
            "tools[0]",
        ),
        ({"model": "svc", "input": "hi", "tools": [{**FUNCTION, "strict": 1}]}, "tools[0].strict"),
        ({"model": "svc", "input": "hi", "tool_choice": "sometimes"}, "tool_choice"),
        (
            {"model": "svc", "input": "hi", "tool_choice": {"type": "function", "name": "g"}},
            "tool_choice",
        ),
        (
            {"model": "svc", "input": "hi", "tool_choice": {"type": "web_search_preview"}},
            "tool_choice",
        ),
        ({"model": "svc", "input": "hi", "text": "json"}, "text"),
        ({"model": "svc", "input": "hi", "text": {"format": {"type": "xml"}}}, "text.format"),
        (
            {"model": "svc", "input": "hi", "text": {"format": {"type": "json_schema"}}},
            "text.format",
        ),
        ({"model": "svc", "input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "svc", "input": "hi", "max_output_tokens": "9"}, "max_output_tokens"),
        ({"model": "svc", "input": "hi", "temperature": "hot"}, "temperature"),
        ({"model": "svc", "input": "hi", "stream": "yes"}, "stream"),
        ({"model": "svc", "input": "hi", "store": 1}, "store"),
        ({"model": "svc", "input": "hi", "truncation": "middle"}, "truncation"),
        ({"model": "svc", "input": "hi", "metadata": {"a": 1}}, "metadata"),
        ({"model": "svc", "input": "hi", "previous_response_id": 5}, "previous_response_id"),
        ({"model": "svc", "input": "hi", "background": True}, "background"),
        ({"model": "svc", "input": "hi", "conversation": "conv_1"}, "conversation"),
        ({"model": "svc", "input": "hi", "prompt": {"id": "pmpt_1"}}, "prompt"),
    ],
)
def test_bad_input_is_400_naming_the_param(client, chain, body, param):
    _, secret = ConsumerAPIKey.objects.create_key(name="e")
    assert_openai_error(post(client, secret, body), 400, param=param)
    assert UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_built_in_tool_error_names_the_tool(client, chain):
    _, secret = ConsumerAPIKey.objects.create_key(name="e")
    body = {"model": "svc", "input": "hi", "tools": [FUNCTION, {"type": "web_search"}]}
    error = assert_openai_error(post(client, secret, body), 400, param="tools[1].type")
    assert "web_search" in error["message"]


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_400(client, chain):
    _, secret = ConsumerAPIKey.objects.create_key(name="e")
    assert_openai_error(post(client, secret, "[1, 2]"), 400, param="body")


@pytest.mark.django_db
def test_unknown_or_forbidden_model_is_404(client, chain):
    _, narrow = ConsumerAPIKey.objects.create_key(name="n", allowed_services=["other"])
    for secret, model in (
        (narrow, "svc"),
        (ConsumerAPIKey.objects.create_key(name="w")[1], "nope"),
    ):
        assert_openai_error(
            post(client, secret, {"model": model, "input": "hi"}),
            404,
            code="model_not_found",
            param="model",
        )


@pytest.mark.django_db
def test_unknown_previous_response_is_404_before_any_call(client, chain, openai_fake):
    _, secret = ConsumerAPIKey.objects.create_key(name="e")
    body = {"model": "svc", "input": "hi", "previous_response_id": "resp_nothing"}
    assert_openai_error(
        post(client, secret, body), 404, code="response_not_found", param="previous_response_id"
    )
    assert openai_fake.requests == [] and UsageRecord.objects.count() == 0


@pytest.mark.django_db
def test_responses_are_isolated_between_keys(client, chain):
    _, mine = ConsumerAPIKey.objects.create_key(name="mine")
    _, theirs = ConsumerAPIKey.objects.create_key(name="theirs")
    created = post(client, mine, {"model": "svc", "input": "my secret plan"})
    assert created.status_code == 200, created.content
    response_id = created.json()["id"]
    detail = f"{URL}/{response_id}"
    for method in ("get", "delete"):
        answer = post(client, theirs, "", url=detail, method=method)
        error = assert_openai_error(answer, 404, code="response_not_found")
        assert "my secret plan" not in answer.content.decode()
        assert response_id in error["message"]  # the same answer as for an unknown id
    continued = post(
        client, theirs, {"model": "svc", "input": "and?", "previous_response_id": response_id}
    )
    assert_openai_error(continued, 404, param="previous_response_id")
    assert StoredResponse.objects.filter(pk=response_id).exists()
    assert post(client, mine, "", url=detail, method="get").json()["id"] == response_id
    deleted = post(client, mine, "", url=detail, method="delete")
    assert deleted.json() == {"id": response_id, "object": "response", "deleted": True}
    assert_openai_error(post(client, mine, "", url=detail, method="get"), 404)


@pytest.mark.django_db
def test_too_many_turns_with_the_previous_response_is_refused(client, chain, settings):
    _, secret = ConsumerAPIKey.objects.create_key(name="e")
    first = post(client, secret, {"model": "svc", "input": "one"}).json()
    settings.API_MAX_MESSAGES = 2
    body = {"model": "svc", "input": "two", "previous_response_id": first["id"]}
    assert_openai_error(post(client, secret, body), 400, code="request_too_complex", param="input")


@pytest.mark.django_db
def test_a_conversation_too_large_to_continue_is_refused(client, chain, settings):
    _, secret = ConsumerAPIKey.objects.create_key(name="e")
    first = post(client, secret, {"model": "svc", "input": "word " * 100}).json()
    body = {"model": "svc", "input": "more", "previous_response_id": first["id"]}
    settings.RESPONSES_MAX_CONVERSATION_BYTES = 400
    assert_openai_error(
        post(client, secret, body), 400, code="request_too_complex", param="previous_response_id"
    )
    settings.RESPONSES_MAX_CONVERSATION_BYTES = 4000
    assert post(client, secret, body).status_code == 200


@pytest.mark.django_db
def test_a_failing_primary_fails_over_with_a_record_per_attempt(client, chain, openai_fake):
    _, secret = ConsumerAPIKey.objects.create_key(name="e")
    openai_fake.faults.status = 500
    response = post(client, secret, {"model": "svc", "input": "hello"})
    assert response.status_code == 200, response.content
    assert response.json()["model"] == "an:claude-haiku-4-5"
    records = UsageRecord.objects.filter(request_id=response["x-request-id"]).order_by("attempt")
    assert [(r.provider, r.outcome) for r in records] == [
        ("oa", "provider_unavailable"),
        ("oa", "provider_unavailable"),
        ("an", "ok"),
    ]
    stored = StoredResponse.objects.get(pk=response.json()["id"])
    assert stored.usage_record_id == records.last().pk


@pytest.mark.django_db
def test_every_candidate_failing_is_an_openai_error_and_stores_nothing(
    client, chain, openai_fake, anthropic_fake
):
    _, secret = ConsumerAPIKey.objects.create_key(name="e")
    openai_fake.faults.status = 500
    anthropic_fake.faults.status = 500
    response = post(client, secret, {"model": "svc", "input": "hello"})
    error = assert_openai_error(response, 503, code="provider_unavailable")
    assert response["x-request-id"] in error["message"]
    assert StoredResponse.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_stream_cut_mid_way_ends_with_an_error_event(live_server, chain, openai_fake):
    _, secret = ConsumerAPIKey.objects.create_key(name="stream")
    openai_fake.faults.cut_stream_after = 3
    with sdk_client(live_server, secret) as sdk:
        events = list(sdk.responses.create(model="svc", input="hello there", stream=True))
    assert events[0].type == "response.created"
    assert any(e.type == "response.output_text.delta" for e in events)
    error = events[-1]
    assert error.type == "error" and error.code == "provider_stream_interrupted"
    assert all(e.type != "response.completed" for e in events)
    [record] = UsageRecord.objects.all()
    assert record.outcome == "provider_stream_interrupted" and record.streamed
    assert StoredResponse.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_sdk_sees_typed_errors(live_server, chain):
    _, secret = ConsumerAPIKey.objects.create_key(name="sdk")
    with sdk_client(live_server, secret) as sdk:
        with pytest.raises(openai.BadRequestError) as bad:
            sdk.responses.create(model="svc", input="hi", tools=[{"type": "web_search"}])
        assert bad.value.param == "tools[0].type"
        with pytest.raises(openai.NotFoundError) as missing:
            sdk.responses.retrieve("resp_missing")
        assert missing.value.code == "response_not_found"
        with pytest.raises(openai.NotFoundError):
            sdk.responses.create(model="svc", input="hi", previous_response_id="resp_missing")
