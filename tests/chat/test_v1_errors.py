"""/v1 errors: bad input is a 4xx in OpenAI's error shape (never a 5xx), provider failures
are retried or failed over with one UsageRecord per attempt, and keys never leak."""

import json

import openai
import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set
from usage.models import UsageRecord

URL = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def key(db):
    _, secret = ConsumerAPIKey.objects.create_key(
        name="errors", allowed_services=["svc"], allowed_models=["an:claude-haiku-4-5"]
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
    selection_set("other", primary)


def post(client, key, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return client.post(URL, data=data, content_type="application/json", **headers, **extra)


def assert_openai_error(response, status, code=None, param=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    assert response["x-request-id"].startswith("req_")
    return error


@pytest.mark.django_db
def test_missing_or_bad_key_is_401(client, chain):
    error = assert_openai_error(post(client, None, {"model": "svc", "messages": HELLO}), 401)
    assert error["code"] == "invalid_api_key" and error["type"] == "authentication_error"
    assert_openai_error(post(client, "abc.def", {"model": "svc", "messages": HELLO}), 401)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "svc", "messages": []}, "messages"),
        ({"model": "svc"}, "messages"),
        ({"model": "svc", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"model": "svc", "messages": ["x"]}, "messages[0]"),
        ({"model": "svc", "messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role"),
        (
            {
                "model": "svc",
                "messages": HELLO,
                "tools": [{"function": {"name": "f", "description": {"a": 1}}}],
            },
            "tools[0].description",
        ),
        ({"messages": HELLO}, "model"),
        ({"model": "svc", "messages": HELLO, "n": 2}, "n"),
        ({"model": "svc", "messages": HELLO, "temperature": "hot"}, "temperature"),
        ({"model": "svc", "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": "svc", "messages": HELLO, "tools": [{"type": "web"}]}, "tools[0]"),
        ({"model": "svc", "messages": [{"role": "tool", "content": "x"}]}, "messages[0]"),
        ([1, 2], "body"),
    ],
)
def test_bad_input_is_400(client, key, chain, body, param):
    assert_openai_error(post(client, key, body), 400, param=param)
    assert not UsageRecord.objects.exists()


@pytest.mark.django_db
def test_out_of_range_temperature_is_400(client, key, chain):
    assert_openai_error(
        post(client, key, {"model": "svc", "messages": HELLO, "temperature": 9}), 400
    )


@pytest.mark.django_db
def test_malformed_json_is_400(client, key, chain):
    assert_openai_error(post(client, key, '{"model": "svc", "messages": ['), 400)


@pytest.mark.django_db
def test_oversized_body_is_413(client, key, chain, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"model": "svc", "messages": [{"role": "user", "content": "x" * 5000}]}
    assert_openai_error(post(client, key, body), 413)


@pytest.mark.django_db
def test_model_the_key_may_not_use_is_404(client, key, chain):
    for model in ("other", "oa:gpt-4o-mini", "no-such-service"):
        error = assert_openai_error(
            post(client, key, {"model": model, "messages": HELLO}), 404, code="model_not_found"
        )
        assert error["param"] == "model"


@pytest.mark.django_db
def test_unknown_model_for_an_unrestricted_key_is_404(client, chain):
    _, secret = ConsumerAPIKey.objects.create_key(name="all")
    for model in ("nope", "oa:no-such-model", "bad:model:string"):
        assert_openai_error(
            post(client, secret, {"model": model, "messages": HELLO}), 404, code="model_not_found"
        )


@pytest.mark.django_db
def test_embeddings_bad_input_is_400(client, key, chain):
    for body in (
        {"model": "svc"},
        {"model": "svc", "input": [1, 2]},
        {"model": "svc", "input": ""},
    ):
        response = client.post(
            "/v1/embeddings",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert_openai_error(response, 400, param="input")


@pytest.mark.django_db
def test_chat_request_to_an_embedding_service_is_400(client, openai_fake):
    model = model_create(
        provider_create(openai_fake, slug="oa", kind="openai"),
        "text-embedding-3-small",
        kind="embedding",
    )
    selection_set("embedder", model)
    _, secret = ConsumerAPIKey.objects.create_key(name="all")
    assert_openai_error(post(client, secret, {"model": "embedder", "messages": HELLO}), 400)


@pytest.mark.django_db
def test_upstream_auth_error_is_not_retried_and_hides_the_key(client, key, chain, openai_fake):
    openai_fake.api_key = "sk-expected-by-provider-000000000000"
    response = post(client, key, {"model": "svc", "messages": HELLO})
    error = assert_openai_error(response, 502, code="provider_authentication_failed")
    assert "sk-test-openai" not in response.content.decode()
    assert "sk-expected" not in response.content.decode()
    assert len(openai_fake.requests) == 1
    assert list(UsageRecord.objects.values_list("outcome", flat=True)) == [error["code"]]


@pytest.mark.django_db
def test_primary_500_fails_over_with_a_record_per_attempt(client, key, chain, openai_fake):
    openai_fake.faults.status = 500
    response = post(client, key, {"model": "svc", "messages": HELLO})
    assert response.status_code == 200
    assert response["x-served-model"] == "an:claude-haiku-4-5"
    records = UsageRecord.objects.filter(request_id=response["x-request-id"]).order_by("attempt")
    assert [(r.provider, r.outcome) for r in records] == [
        ("oa", "provider_unavailable"),
        ("oa", "provider_unavailable"),
        ("an", "ok"),
    ]


@pytest.mark.django_db
def test_all_candidates_rate_limited_is_429_with_retry_after(
    client, key, chain, openai_fake, anthropic_fake, settings
):
    settings.RUNTIME_TOTAL_TIMEOUT_SECONDS = 1.0
    openai_fake.faults.status = 429
    openai_fake.faults.retry_after = 5
    anthropic_fake.faults.status = 429
    anthropic_fake.faults.retry_after = 7
    response = post(client, key, {"model": "svc", "messages": HELLO})
    assert_openai_error(response, 429, code="provider_rate_limited")
    assert response["Retry-After"] == "7"
    assert UsageRecord.objects.filter(outcome="provider_rate_limited").count() == 2


@pytest.mark.django_db(transaction=True)
def test_stream_cut_mid_way_reaches_the_sdk_as_an_error(live_server, chain, openai_fake):
    _, secret = ConsumerAPIKey.objects.create_key(name="stream")
    openai_fake.faults.cut_stream_after = 3
    received = []
    with (
        openai.OpenAI(api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0) as sdk,
        pytest.raises(openai.APIError) as caught,
    ):
        for chunk in sdk.chat.completions.create(model="svc", messages=HELLO, stream=True):
            received.append(chunk)
    assert "stream" in str(caught.value.message).lower()
    assert any(c.choices and c.choices[0].delta.content for c in received)
    [record] = UsageRecord.objects.all()
    assert record.outcome == "provider_stream_interrupted" and record.streamed
