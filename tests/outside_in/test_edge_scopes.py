"""Issue 9 §3 from outside: scopes are checked on every request. A key narrowed to service A
can no longer post (or pay) in its conversation on service B; a key limited to service A sees
only A's selection and models through the read endpoints, never B's system prompt."""

import pytest

from tests.outside_in.seed import SEED, openai_provider

SECRET_B = "Secret system prompt of service B"


@pytest.fixture(scope="module")
def scoped(production_stack, hostile_upstream):
    seeded = production_stack.django(
        SEED,
        args={
            "providers": [openai_provider("scope", hostile_upstream)],
            "models": [
                {"provider": "scope", "name": "gpt-4o-mini"},
                {"provider": "scope", "name": "o4-mini"},
            ],
            "selections": [
                {"service": "oi_a", "primary": "scope:gpt-4o-mini", "system_prompt": "A's"},
                {"service": "oi_b", "primary": "scope:o4-mini", "system_prompt": SECRET_B},
            ],
            "keys": [
                {"name": "oi-ab", "services": ["oi_a", "oi_b"]},
                {"name": "oi-a", "services": ["oi_a"]},
            ],
        },
    )
    return production_stack, seeded["keys"]


def records_of(stack, conversation_id: int) -> int:
    return stack.sql(
        "SELECT count(*) FROM usage_usagerecord WHERE conversation_id = %s", (conversation_id,)
    )[0][0]


def test_a_narrowed_key_cannot_post_to_its_conversation_on_another_service(scoped, hostile):
    stack, keys = scoped
    with stack.client(keys["oi-ab"]) as client:
        created = client.post("/api/conversations/", json={"service": "oi_b"})
        assert created.status_code == 201, created.text
        conversation = created.json()["id"]
        url = f"/api/conversations/{conversation}/messages/"
        assert client.post(url, json={"content": "hi"}).status_code == 201
        paid = records_of(stack, conversation)
        assert paid == 1
        stack.django(
            "from providers.models import ConsumerAPIKey\n"
            "key = ConsumerAPIKey.objects.get(name='oi-ab')\n"
            "key.allowed_services = ['oi_a']\nkey.save()\nresult = None"
        )
        for suffix in ("", "?stream=true"):
            refused = client.post(url + suffix, json={"content": "again"})
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "permission_denied"
    assert records_of(stack, conversation) == paid  # nothing was called or paid


@pytest.mark.parametrize(
    "path", ["/api/selections/", "/api/models/", "/api/models/available/", "/v1/models"]
)
def test_a_restricted_key_sees_only_what_it_may_call(scoped, path):
    stack, keys = scoped
    with stack.client(keys["oi-a"]) as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    text = response.text
    assert SECRET_B not in text
    assert "oi_b" not in text and "o4-mini" not in text
    for other in ("spend:", "repoint:", "hostile:", "fb-backup"):
        assert other not in text, (other, text[:500])
