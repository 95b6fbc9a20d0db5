"""The hot path: in the steady state a /v1 call reads nothing from the database (resolution,
key identity and adapters come from caches); its only query is the UsageRecord INSERT."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set

pytestmark = pytest.mark.django_db


def test_steady_state_call_only_inserts_its_usage_record(client, openai_fake):
    selection_set(
        "svc", model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    )
    _, secret = ConsumerAPIKey.objects.create_key(name="hot")
    body = json.dumps({"model": "svc", "messages": [{"role": "user", "content": "hi"}]})

    def call():
        response = client.post(
            "/v1/chat/completions",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        assert response.status_code == 200

    call()  # warms the resolution, the key identity and the adapter pool
    with CaptureQueriesContext(connection) as queries:
        call()
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements == ["INSERT"], [q["sql"][:80] for q in queries.captured_queries]
