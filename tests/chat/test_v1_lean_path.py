"""The lean dispatch of the call endpoints (chat.v1.views.V1View._lean_dispatch): a POST of
plain JSON skips DRF's Request wrapper, and answers exactly what DRF's own path answers, for
successes and for every kind of refusal."""

import json

import pytest
from rest_framework.views import APIView

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set

HELLO = [{"role": "user", "content": "hello"}]
# Negotiated the same (JSON), but through DRF's media-range parsing: DRF's own path.
DRF_ACCEPT = "application/json;q=1.0"
COMPARED_HEADERS = ("Content-Type", "Allow", "WWW-Authenticate", "Vary", "x-served-model")


@pytest.fixture
def key(db, openai_fake, anthropic_fake):
    selection_set(
        "svc", model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    )
    selection_set(
        "claude",
        model_create(
            provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
        ),
    )
    _, secret = ConsumerAPIKey.objects.create_key(
        name="lean", allowed_services=["svc", "claude", "other"]
    )
    return secret


@pytest.fixture
def drf_requests(monkeypatch):
    """How many requests went through DRF's Request wrapper."""
    built = []
    original = APIView.initialize_request

    def counted(self, request, *args, **kwargs):
        built.append(request.path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "initialize_request", counted)
    return built


def post(client, path, body, *, secret, accept=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    if accept:
        headers["HTTP_ACCEPT"] = accept
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **headers, **extra)


def comparable(response) -> tuple:
    body = response.content
    if response.get("Content-Type") == "application/json":
        body = json.loads(body)
        if isinstance(body, dict):
            body.pop("id", None)
            body.pop("created", None)
            body.pop("request_id", None)  # Anthropic's error shape names it
            if isinstance(body.get("error"), dict):  # a provider error names the request id
                body["error"]["message"] = body["error"]["message"].split(" (request id")[0]
    headers = {name: response.get(name) for name in COMPARED_HEADERS}
    return response.status_code, headers, body


CASES = [
    ("/v1/chat/completions", {"model": "svc", "messages": HELLO}, "key"),
    ("/v1/chat/completions", {"model": "svc", "messages": HELLO, "stream": 1}, "key"),
    ("/v1/chat/completions", {"model": "nope", "messages": HELLO}, "key"),
    ("/v1/chat/completions", {"model": "svc"}, "key"),
    ("/v1/chat/completions", [1, 2], "key"),
    ("/v1/chat/completions", "null", "key"),
    ("/v1/chat/completions", '{"model": "svc", "messages": [', "key"),
    ("/v1/chat/completions", '{"model": NaN}', "key"),
    ("/v1/chat/completions", b'{"model": "\xff"}', "key"),
    ("/v1/chat/completions", {"model": "svc", "messages": HELLO}, None),
    ("/v1/chat/completions", {"model": "svc", "messages": HELLO}, "abc.def"),
    ("/v1/embeddings", {"model": "svc", "input": "hello"}, "key"),
    ("/v1/embeddings", {"model": "svc", "input": 5}, "key"),
    ("/anthropic/v1/messages", {"model": "claude", "max_tokens": 9, "messages": HELLO}, "key"),
    ("/anthropic/v1/messages", {"model": "claude", "messages": "hi"}, "key"),
    ("/anthropic/v1/messages", {"model": "claude", "max_tokens": 9, "messages": HELLO}, None),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body", "who"), CASES)
def test_the_lean_path_answers_what_drfs_path_answers(client, key, drf_requests, path, body, who):
    secret = key if who == "key" else who
    lean = post(client, path, body, secret=secret)
    assert drf_requests == []  # no DRF Request was built
    drf = post(client, path, body, secret=secret, accept=DRF_ACCEPT)
    assert drf_requests == [path]
    assert comparable(lean) == comparable(drf)
    assert lean["x-request-id"].startswith("req_") and lean["x-request-id"] != drf["x-request-id"]


@pytest.mark.django_db
def test_a_lean_answer_carries_drfs_headers_and_the_call_is_recorded(client, key):
    from usage.models import UsageRecord

    answer = post(client, "/v1/chat/completions", {"model": "svc", "messages": HELLO}, secret=key)
    assert answer.status_code == 200, answer.content
    assert answer["Allow"] == "POST, OPTIONS"
    assert answer.json()["choices"][0]["message"]["content"]
    record = UsageRecord.objects.get(request_id=answer["x-request-id"])
    assert record.outcome == "ok" and record.service == "svc"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "query", "content_type"),
    [
        ("text/event-stream", "", "application/json"),
        ("text/html", "", "application/json"),
        (None, "x=1", "application/json"),
        (None, "", "text/plain"),
        (None, "", "application/x-www-form-urlencoded"),
    ],
)
def test_other_requests_take_drfs_path(client, key, drf_requests, accept, query, content_type):
    """Whatever the lean path does not recognise goes to DRF, which answers as it always did."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if accept:
        headers["HTTP_ACCEPT"] = accept
    path = "/v1/chat/completions" + (f"?{query}" if query else "")
    body = json.dumps({"model": "svc", "messages": HELLO})
    answer = client.post(path, data=body, content_type=content_type, **headers)
    assert drf_requests == ["/v1/chat/completions"]
    assert answer["x-request-id"].startswith("req_")
    expected = {"text/html": 406, "text/plain": 415, "application/x-www-form-urlencoded": 400}
    assert answer.status_code == expected.get(accept or content_type, 200), answer.content


@pytest.mark.django_db
def test_an_empty_body_is_drfs_empty_object(client, key, drf_requests):
    answer = post(client, "/v1/chat/completions", "", secret=key)
    assert drf_requests == ["/v1/chat/completions"]
    error = answer.json()["error"]
    assert answer.status_code == 400 and error["param"] == "model", error


@pytest.mark.django_db
def test_a_get_of_a_call_endpoint_is_drfs_405(client, key, drf_requests):
    answer = client.get("/v1/chat/completions", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert drf_requests == ["/v1/chat/completions"]
