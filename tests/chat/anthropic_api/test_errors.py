"""/anthropic errors and edges: bad input is a 400 invalid_request_error in Anthropic's shape
(never a 5xx), keys in x-api-key or Authorization, unknown or forbidden models are 404
not_found_error, budgets 429 rate_limit_error, provider failures fail over with one
UsageRecord per attempt, and a failure mid-stream reaches the SDK as an error event.
Fields Anthropic clients send that the gateway does not forward are accepted."""

import json
from decimal import Decimal

import anthropic
import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set
from usage.models import Budget, UsageRecord

URL = "/anthropic/v1/messages"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def key(db):
    _, secret = ConsumerAPIKey.objects.create_key(
        name="errors", allowed_services=["svc", "solo"], allowed_models=["an:claude-haiku-4-5"]
    )
    return secret


@pytest.fixture
def chain(openai_fake, anthropic_fake):
    primary = model_create(
        provider_create(openai_fake, slug="oa", kind="openai", timeout=0.5), "gpt-4o-mini"
    )
    fallback = model_create(
        provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
    )
    selection_set("svc", primary, (fallback,))
    selection_set("solo", fallback)
    selection_set("other", primary)


def post(client, key, body, *, url=URL, header="x-api-key"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = {}
    if key and header == "x-api-key":
        headers["HTTP_X_API_KEY"] = key
    elif key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.post(
        url,
        data=data,
        content_type="application/json",
        HTTP_ANTHROPIC_VERSION="2023-06-01",
        **headers,
    )


def assert_anthropic_error(response, status, error_type):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] == "error"
    assert set(body["error"]) == {"type", "message"} and body["error"]["message"]
    assert body["error"]["type"] == error_type
    assert body["request_id"] == response["x-request-id"]
    assert response["x-request-id"].startswith("req_")
    return body["error"]


def body(**fields):
    return {"model": "svc", "max_tokens": 64, "messages": HELLO, **fields}


@pytest.mark.django_db
def test_key_in_either_header_and_missing_or_bad_key_is_401(client, key, chain):
    assert post(client, key, body()).status_code == 200
    assert post(client, key, body(), header="authorization").status_code == 200
    assert_anthropic_error(post(client, None, body()), 401, "authentication_error")
    assert_anthropic_error(post(client, "abc.def", body()), 401, "authentication_error")
    models = client.get("/anthropic/v1/models", HTTP_X_API_KEY="abc.def")
    assert_anthropic_error(models, 401, "authentication_error")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"model": "svc", "messages": HELLO}, "max_tokens"),
        (body(max_tokens=0), "max_tokens"),
        (body(max_tokens="12"), "max_tokens"),
        (body(messages=[]), "messages"),
        (body(messages=[{"role": "system", "content": "x"}]), "role"),
        (body(messages=["x"]), "messages.0"),
        (body(messages=[{"role": "user", "content": 7}]), "content"),
        (body(messages=[{"role": "user", "content": [{"type": "document"}]}]), "document"),
        (body(messages=[{"role": "user", "content": [{"text": "no type"}]}]), "type"),
        (
            body(messages=[{"role": "user", "content": [{"type": "image", "source": {}}]}]),
            "source.type",
        ),
        (
            body(
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "url", "url": "file:///x"}}
                        ],
                    }
                ]
            ),
            "http",
        ),
        (
            body(messages=[{"role": "assistant", "content": [{"type": "tool_use", "id": "t"}]}]),
            "name",
        ),
        (body(tools=[{"type": "web_search_20250305", "name": "web_search"}]), "server tools"),
        (body(tools=[{"name": "f"}]), "input_schema"),
        (body(tools={"name": "f"}), "tools"),
        (body(tool_choice={"type": "required"}), "tool_choice"),
        (body(tool_choice={"type": "tool"}), "tool_choice.name"),
        (body(system=[{"type": "image"}]), "system"),
        (body(stop_sequences="END"), "stop_sequences"),
        (body(stream="yes"), "stream"),
        (body(temperature="hot"), "temperature"),
        (body(top_k=1.5), "top_k"),
        (body(thinking="on"), "thinking"),
        (body(metadata=["u"]), "metadata"),
        (body(output_config={"format": {"type": "xml"}}), "json_schema"),
        (body(model=""), "model"),
        (body(model="x" * 1000), "model"),
        ([1, 2], "body"),
        ("{not json", "JSON"),
    ],
)
def test_bad_input_is_400(client, key, chain, payload, needle):
    error = assert_anthropic_error(post(client, key, payload), 400, "invalid_request_error")
    assert needle.lower() in error["message"].lower()


@pytest.mark.django_db
def test_oversized_body_is_413(client, key, chain, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(client, key, body(system="x" * 2000))
    assert_anthropic_error(response, 413, "request_too_large")


@pytest.mark.django_db
def test_unknown_or_forbidden_model_is_404(client, key, chain):
    for model in ("other", "nope", "oa:gpt-4o-mini"):
        error = assert_anthropic_error(post(client, key, body(model=model)), 404, "not_found_error")
        assert model in error["message"]
    count = post(client, key, body(model="nope"), url=URL + "/count_tokens")
    assert_anthropic_error(count, 404, "not_found_error")
    missing = client.get("/anthropic/v1/models/other", HTTP_X_API_KEY=key)
    assert_anthropic_error(missing, 404, "not_found_error")
    listed = client.get("/anthropic/v1/models", HTTP_X_API_KEY=key).json()
    assert [m["id"] for m in listed["data"]] == ["solo", "svc", "an:claude-haiku-4-5"]
    assert listed["has_more"] is False and listed["last_id"] == "an:claude-haiku-4-5"


@pytest.mark.django_db(transaction=True)
def test_budget_is_429_through_the_sdk(live_server, key, chain, openai_fake):
    Budget.objects.create(
        name="tiny",
        scope_type="service",
        scope_value="svc",
        period="daily",
        limit_usd=Decimal("0.000001"),
        hard=True,
    )
    with (
        anthropic.Anthropic(
            api_key=key, base_url=f"{live_server.url}/anthropic", max_retries=0
        ) as sdk,
        pytest.raises(anthropic.RateLimitError) as caught,
    ):
        sdk.messages.create(model="svc", max_tokens=64, messages=HELLO)
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert caught.value.response.headers["x-error-code"] == "budget_exceeded"
    assert openai_fake.requests == []
    assert not UsageRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sdk_sees_auth_and_not_found_errors(live_server, key, chain):
    url = f"{live_server.url}/anthropic"
    with (
        anthropic.Anthropic(api_key="abc.def", base_url=url, max_retries=0) as sdk,
        pytest.raises(anthropic.AuthenticationError) as caught,
    ):
        sdk.messages.create(model="svc", max_tokens=64, messages=HELLO)
    assert caught.value.body["error"]["type"] == "authentication_error"
    with anthropic.Anthropic(api_key=key, base_url=url, max_retries=0) as sdk:
        with pytest.raises(anthropic.NotFoundError):
            sdk.messages.create(model="nope", max_tokens=64, messages=HELLO)
        with pytest.raises(anthropic.BadRequestError):
            sdk.messages.create(model="svc", max_tokens=0, messages=HELLO)


@pytest.mark.django_db
def test_primary_500_fails_over_with_a_record_per_attempt(client, key, chain, openai_fake):
    openai_fake.faults.status = 500
    response = post(client, key, body())
    assert response.status_code == 200, response.content
    assert response["x-served-model"] == "an:claude-haiku-4-5"
    assert response.json()["model"] == "svc"
    records = UsageRecord.objects.filter(request_id=response["x-request-id"]).order_by("attempt")
    assert [(r.provider, r.outcome) for r in records] == [
        ("oa", "provider_unavailable"),
        ("oa", "provider_unavailable"),
        ("an", "ok"),
    ]
    assert [r.cost for r in records][:2] == [0, 0]  # refused attempts used no tokens
    assert records[2].cost > 0 and records[2].input_tokens > 0


@pytest.mark.django_db
def test_all_candidates_failing_is_an_overloaded_error(
    client, key, chain, openai_fake, anthropic_fake
):
    openai_fake.faults.status = 500
    anthropic_fake.faults.status = 529
    error = assert_anthropic_error(post(client, key, body()), 503, "overloaded_error")
    assert "request id" in error["message"] and "fake error" not in error["message"]


@pytest.mark.django_db(transaction=True)
def test_error_mid_stream_reaches_the_sdk(live_server, key, chain, anthropic_fake):
    anthropic_fake.stream_error = "overloaded_error"
    with (
        anthropic.Anthropic(
            api_key=key, base_url=f"{live_server.url}/anthropic", max_retries=0
        ) as sdk,
        pytest.raises(anthropic.APIStatusError) as caught,
        sdk.messages.stream(model="solo", max_tokens=64, messages=HELLO) as stream,
    ):
        for _ in stream:
            pass
    assert caught.value.body["error"]["type"] == "overloaded_error"
    [record] = UsageRecord.objects.all()
    assert record.outcome == "provider_stream_interrupted" and record.streamed


@pytest.mark.django_db
def test_fields_not_forwarded_are_accepted(client, key, chain, anthropic_fake):
    payload = body(
        model="solo",
        system=[{"type": "text", "text": "Rule one.", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": "first"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "ok"},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                ],
            },
        ],
        thinking={"type": "enabled", "budget_tokens": 1024},
        cache_control={"type": "ephemeral"},
        metadata={"user_id": "u-1"},
        top_k=5,
        temperature=0.2,
        stop_sequences=["END"],
        service_tier="auto",
    )
    response = post(client, key, payload)
    assert response.status_code == 200, response.content
    sent = anthropic_fake.requests[-1].body
    assert sent["system"] == "Rule one."
    assert "thinking" not in sent and "top_k" not in sent and "metadata" not in sent
    assert sent["stop_sequences"] == ["END"]
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "ok"}]
    image = sent["messages"][2]["content"][1]
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": "iVBO"}


@pytest.mark.django_db
def test_tool_result_error_and_structured_output_reach_the_provider(
    client, key, chain, anthropic_fake
):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    payload = body(
        model="solo",
        messages=[
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and then"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "is_error": True,
                        "content": [{"type": "text", "text": "boom"}],
                    },
                ],
            },
        ],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    response = post(client, key, payload)
    assert response.status_code == 200, response.content
    sent = anthropic_fake.requests[-1].body
    result, text = sent["messages"][2]["content"]
    assert result["type"] == "tool_result" and result["content"] == "Error: boom"
    assert text == {"type": "text", "text": "and then"}
    assert sent["output_config"]["format"]["schema"] == schema
    assert "Error: boom" in response.json()["content"][0]["text"]


@pytest.mark.django_db
def test_max_tokens_stop_reason(client, key, chain, anthropic_fake):
    anthropic_fake.reply_text = "one two three four five"
    message = post(client, key, body(model="solo", max_tokens=2)).json()
    assert message["stop_reason"] == "max_tokens"
    assert message["content"] == [{"type": "text", "text": "one two"}]
    assert set(message["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }


@pytest.mark.django_db
def test_max_tokens_above_every_candidate_is_lowered_to_the_largest(
    client, key, chain, anthropic_fake
):
    response = post(client, key, body(model="solo", max_tokens=32_000))
    assert response.status_code == 200, response.content
    assert anthropic_fake.requests[-1].body["max_tokens"] == 4096  # the model's limit
    post(client, key, body(model="solo", max_tokens=100))
    assert anthropic_fake.requests[-1].body["max_tokens"] == 100


@pytest.mark.django_db
def test_count_tokens_asks_an_anthropic_provider_and_estimates_when_it_fails(
    client, key, chain, anthropic_fake
):
    url = URL + "/count_tokens"
    payload = {"model": "solo", "system": "be kind", "messages": HELLO}
    counted = post(client, key, payload, url=url)
    assert counted.status_code == 200, counted.content
    assert counted["x-token-count"] == "provider"
    assert counted.json() == {"input_tokens": 3}  # the fake counts words: "be kind hello"
    sent = anthropic_fake.requests[-1]
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.body["model"] == "claude-haiku-4-5" and "max_tokens" not in sent.body
    anthropic_fake.faults.status = 529
    estimated = post(client, key, payload, url=url)
    assert estimated.status_code == 200 and estimated["x-token-count"] == "estimate"
    assert estimated.json()["input_tokens"] > 0
    assert not UsageRecord.objects.exists()
    served_by_openai = post(client, key, {**payload, "model": "svc"}, url=url)
    assert served_by_openai["x-token-count"] == "estimate"


@pytest.mark.django_db
def test_count_tokens_does_not_wait_on_an_open_circuit(
    client, key, chain, anthropic_fake, settings
):
    from chat.runtime.breaker import CircuitBreaker

    settings.CIRCUIT_BREAKER_FAILURES = 1
    CircuitBreaker().record_failure("an")
    payload = {"model": "solo", "messages": HELLO}
    counted = post(client, key, payload, url=URL + "/count_tokens")
    assert counted.status_code == 200 and counted["x-token-count"] == "estimate"
    assert anthropic_fake.requests == []
