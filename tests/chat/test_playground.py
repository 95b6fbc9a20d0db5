"""The playground: staff only; streams a reply with who served it, tokens, cost and latency."""

import json
import re

import pytest

from tests.chat.helpers import model_create, provider_create, selection_set, use_models_grant
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def service(openai_fake):
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("assistant", model)
    return model


def test_page_renders_for_staff_with_services_and_models(client, staff_user, service):
    client.force_login(staff_user)
    response = client.get("/playground/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<option value="assistant">' in html
    assert '<option value="oa:gpt-4o-mini">' in html
    assert re.search(r'(src|href)="(https?:)?//', html) is None  # no CDN assets
    assert "sk-test-openai" not in html


def test_page_redirects_anonymous_and_refuses_non_staff(client, django_user_model):
    response = client.get("/playground/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    user = django_user_model.objects.create_user(username="u", password="pw-user-12345")
    client.force_login(user)
    assert client.get("/playground/").status_code == 302
    stream = client.post("/playground/stream/", data="{}", content_type="application/json")
    assert stream.status_code == 403


def test_stream_reports_server_tokens_cost_and_latency(client, staff_user, service):
    client.force_login(use_models_grant(staff_user))
    body = {"model": "assistant", "messages": [{"role": "user", "content": "Hi there"}]}
    response = client.post(
        "/playground/stream/", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    events = [
        (b.split("\n")[0].removeprefix("event: "), json.loads(b.split("\n")[1][6:]))
        for b in text.strip().split("\n\n")
    ]
    assert events[0] == (
        "start",
        {
            "request_id": events[0][1]["request_id"],
            "model": "oa:gpt-4o-mini",
            "provider": "oa",
            "is_fallback": False,
        },
    )
    assert "Hi there" in "".join(e[1]["text"] for e in events if e[0] == "delta")
    name, done = events[-1]
    assert name == "done"
    assert done["usage"]["total_tokens"] > 0 and done["cost"] is not None
    assert done["latency_ms"] >= 0
    record = UsageRecord.objects.get()
    assert record.user_id == staff_user.pk and record.streamed


def test_stream_bad_input_is_400(client, staff_user, service):
    client.force_login(use_models_grant(staff_user))
    for body in ("{nope", json.dumps({"model": "assistant", "messages": []})):
        response = client.post("/playground/stream/", data=body, content_type="application/json")
        assert response.status_code == 400
        assert "error" in response.json()
