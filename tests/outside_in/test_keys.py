"""Issue 9 §2, keys bound to their destination, from outside.

- A staff user who may change providers re-points one's base_url at an address they control
  and presses *Test connection*: the save is refused without the key, and the stored key never
  reaches that address (the attacker's server records every Authorization it is shown).
- An upstream that echoes the key back altered (partial, base64, URL-encoded) gets none of it
  through to the consumer's error body, nor into the ledger's error message.
"""

import base64
from urllib.parse import quote

import pytest

from tests.fakes.hostile_server import HOSTILE_API_KEY, HostileServer, key_forms
from tests.outside_in.conftest import CHAT_SERVICE
from tests.outside_in.seed import SEED, openai_provider


def leaks(text: str, key: str = HOSTILE_API_KEY) -> list[str]:
    """Every form of `key` in `text`: any 8-character run, base64, URL-encoded."""
    found = [f for f in (base64.b64encode(key.encode()).decode(), quote(key, safe="")) if f in text]
    found += [key[i : i + 8] for i in range(len(key) - 7) if key[i : i + 8] in text]
    return found


@pytest.fixture(scope="module")
def attacker():
    server = HostileServer().start()
    server.api_key = None  # accepts anything, keeps what it saw
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keys_stack(production_stack, hostile_upstream):
    seeded = production_stack.django(
        SEED,
        args={
            "providers": [openai_provider("repoint", hostile_upstream)],
            "models": [{"provider": "repoint", "name": "gpt-4o-mini"}],
            "selections": [{"service": "oi_repoint", "primary": "repoint:gpt-4o-mini"}],
            "staff": [
                {
                    "username": "oi-changer",
                    "permissions": ["view_providerconfig", "change_providerconfig"],
                }
            ],
        },
    )
    production_stack.seeded["tokens"].update(seeded["tokens"])
    return production_stack


@pytest.mark.parametrize("status", [400, 401, 500])
def test_echoed_key_variants_never_reach_the_consumer(stack, hostile, status):
    hostile.echo_key = status
    body = {"model": CHAT_SERVICE, "messages": [{"role": "user", "content": "hi"}]}
    with stack.client(stack.seeded["keys"]["oi-main"]) as client:
        response = client.post("/v1/chat/completions", json=body)
    assert 400 <= response.status_code < 600
    assert hostile.keys_seen == [f"Bearer {HOSTILE_API_KEY}"] * len(hostile.keys_seen)
    assert not leaks(response.text), response.text
    request_id = response.headers["x-request-id"]
    assert request_id in response.text  # the generic message names the request id
    rows = stack.sql(
        "SELECT error_message FROM usage_usagerecord WHERE request_id = %s", (request_id,)
    )
    assert rows and all(not leaks(message) for (message,) in rows), rows
    assert all(form not in repr(rows) for form in key_forms(HOSTILE_API_KEY).values())


def test_no_key_reaches_a_repointed_base_url(keys_stack, hostile, attacker):
    stack = keys_stack
    attacker.keys_seen.clear()
    token = stack.seeded["tokens"]["oi-changer"]
    with stack.client() as staff:
        staff.headers["Authorization"] = f"Token {token}"
        moved = staff.patch("/api/providers/repoint/", json={"base_url": f"{attacker.url}/v1"})
        assert moved.status_code == 400, moved.text
        assert "api_key" in moved.text
        checked = staff.post("/api/providers/repoint/test/")
        staff.get("/api/providers/repoint/models/")
    with stack.client(stack.seeded["keys"]["oi-main"]) as client:
        client.post(
            "/v1/chat/completions",
            json={"model": "oi_repoint", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert checked.status_code < 500, checked.text
    assert not any(HOSTILE_API_KEY in seen for seen in attacker.keys_seen), attacker.keys_seen
    assert not leaks(" ".join(attacker.keys_seen))
