"""The hot path: in the steady state a /v1 call reads nothing from the database (resolution,
key identity and adapters come from caches); its only query is the UsageRecord INSERT, and it
reads the shared cache once, for all of its state."""

import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config import generation_cache
from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(client, openai_fake):
    """A /v1 chat call, warmed once (resolution, key identity, adapter pool)."""
    selection_set(
        "svc", model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    )
    _, secret = ConsumerAPIKey.objects.create_key(name="hot")
    body = json.dumps({"model": "svc", "messages": [{"role": "user", "content": "hi"}]})

    def call(expected_status=200):
        response = client.post(
            "/v1/chat/completions",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        assert response.status_code == expected_status, response.content
        return response

    call()
    return call


def test_steady_state_call_only_inserts_its_usage_record(call):
    with CaptureQueriesContext(connection) as queries:
        call()
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements == ["INSERT"], [q["sql"][:80] for q in queries.captured_queries]


def test_steady_state_call_reads_the_shared_cache_once(call):
    operations, depth = [], [0]

    def counted(name, original):
        def operation(*args, **kwargs):
            if not depth[0]:  # a backend's get_many may loop over its own get
                operations.append(name)
            depth[0] += 1
            try:
                return original(*args, **kwargs)
            finally:
                depth[0] -= 1

        return operation

    names = ("get", "get_many", "set", "set_many", "add", "incr", "delete", "delete_many")
    backend = cache._connections[cache._alias]  # this test's own backend instance
    for name in names:
        setattr(backend, name, counted(name, getattr(backend, name)))
    try:
        call()
    finally:
        for name in names:
            delattr(backend, name)
    assert operations == ["get_many"]


def test_state_read_for_a_request_is_not_kept_after_it(call):
    call()
    assert generation_cache.pinned_values() is None


def test_a_revoked_key_is_refused_on_the_next_request(call, django_capture_on_commit_callbacks):
    ConsumerAPIKey.objects.update(revoked=True)  # a queryset update sends no signal...
    call()  # ...so the cached identity still answers,
    with django_capture_on_commit_callbacks(execute=True):
        ConsumerAPIKey.objects.get().save()  # but a save bumps the generation each request reads
    assert call(expected_status=401).json()["error"]["code"] == "invalid_api_key"
