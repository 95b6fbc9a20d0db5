"""Which calls' ledger rows a web worker writes after the answer (usage.services.ledger_writer):
/v1 chat completions and embeddings and Anthropic's messages, whose answers name no row; not
the native API, whose results carry the row's id, nor a service that keeps request logs, whose
logs name it."""

import json

import pytest

from chat.services import chat_completion_run
from providers.adapters.types import ChatRequest, Message
from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set
from usage.models import UsageRecord
from usage.services import ledger_writer

pytestmark = pytest.mark.django_db(transaction=True)
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def writer():
    running = ledger_writer.ledger_writer_start()
    yield running
    ledger_writer.ledger_writer_stop(timeout=5.0)


@pytest.fixture
def model(openai_fake):
    return model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")


@pytest.fixture
def secret(db):
    _, secret = ConsumerAPIKey.objects.create_key(name="behind")
    return secret


def post(client, secret, path, body):
    return client.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "svc", "messages": HELLO}),
        ("/v1/chat/completions", {"model": "svc", "messages": HELLO, "stream": True}),
        ("/v1/embeddings", {"model": "embed", "input": "hello"}),
        ("/anthropic/v1/messages", {"model": "svc", "max_tokens": 50, "messages": HELLO}),
        (
            "/anthropic/v1/messages",
            {"model": "svc", "max_tokens": 50, "messages": HELLO, "stream": True},
        ),
    ],
)
def test_v1_rows_are_written_by_the_writer(client, writer, model, secret, path, body):
    selection_set("svc", model)
    embedder = model_create(model.provider, "text-embedding-3-small", kind="embedding")
    selection_set("embed", embedder)
    ids_when_queued = []
    original = writer.submit
    writer.submit = lambda record: ids_when_queued.append(record.pk) or original(record)
    response = post(client, secret, path, body)
    assert response.status_code == 200
    if body.get("stream"):
        events = b"".join(response.streaming_content)
        assert b"[DONE]" in events or b"event: message_stop" in events
    writer.flush()
    assert ids_when_queued == [None]  # queued unwritten, the answer sent before the INSERT
    stored = UsageRecord.objects.get()
    assert stored.request_id == response["x-request-id"] and stored.outcome == "ok"
    assert stored.service == body["model"]


def test_a_service_that_keeps_request_logs_writes_its_rows_itself(client, writer, model, secret):
    selection_set("logged", model, request_log_days=7)
    queued = []
    writer.submit = lambda record: queued.append(record) or False
    response = post(client, secret, "/v1/chat/completions", {"model": "logged", "messages": HELLO})
    assert response.status_code == 200
    assert not queued
    assert UsageRecord.objects.filter(request_id=response["x-request-id"]).exists()


def test_the_native_api_result_names_its_row(writer, model):
    selection_set("svc", model)
    result = chat_completion_run(
        request=ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))
    )
    assert UsageRecord.objects.get(pk=result.usage_record_id).request_id == result.request_id
