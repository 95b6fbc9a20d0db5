"""The parameter table of docs/parameters.md, row by row: the official openai SDK calls /v1 with
one parameter set, served in turn by the OpenAI, Anthropic and Gemini fakes, and the test
reads what the fake received (translated), or the 400 naming the parameter, or the
x-ignored-params header (and that the parameter did not reach the provider)."""

import openai
import pytest

from providers.adapters.params import SUPPORT
from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}}
CACHED = {"type": "ephemeral"}
KINDS = ("openai", "anthropic", "gemini")


@pytest.fixture
def client(live_server):
    _, secret = ConsumerAPIKey.objects.create_key(name="params-test")
    with openai.OpenAI(
        api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0, timeout=20
    ) as sdk:
        yield sdk


@pytest.fixture
def fakes(openai_fake, anthropic_fake, gemini_fake):
    return {"openai": openai_fake, "anthropic": anthropic_fake, "gemini": gemini_fake}


@pytest.fixture
def serve(fakes):
    """serve(kind) points the service "assistant" at that kind's fake; returns the fake."""
    names = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}

    def point(kind: str):
        fake = fakes[kind]
        provider = provider_create(fake, slug=f"p-{kind}", kind=kind)
        selection_set("assistant", model_create(provider, names[kind]))
        fake.reset()
        return fake

    return point


def gen(body):
    return body.get("generationConfig") or {}


def keys(value) -> set[str]:
    """Every key of a JSON value, however deep."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


# Where an ignored parameter would show if it had been sent, by name.
WIRE_NAMES = {
    "top_p": {"top_p", "topP"},
    "seed": {"seed"},
    "frequency_penalty": {"frequency_penalty", "frequencyPenalty"},
    "presence_penalty": {"presence_penalty", "presencePenalty"},
    "parallel_tool_calls": {"parallel_tool_calls", "disable_parallel_tool_use"},
    "user": {"user", "user_id", "labels"},
    "metadata": {"metadata", "labels"},
    "service_tier": {"service_tier", "serviceTier"},
}


def first_message(body):
    return body["messages"][0]


# Each row: the parameter, the SDK keyword arguments that set it, and per kind either a check
# of the body the fake received or "ignored" / "refused".
ROWS = {
    "temperature": (
        {"temperature": 0.3},
        {
            "openai": lambda b: b["temperature"] == 0.3,
            "anthropic": "ignored",
            "gemini": lambda b: gen(b)["temperature"] == 0.3,
        },
    ),
    "top_p": (
        {"top_p": 0.5},
        {
            "openai": lambda b: b["top_p"] == 0.5,
            "anthropic": "ignored",
            "gemini": lambda b: gen(b)["topP"] == 0.5,
        },
    ),
    "max_tokens": (
        {"max_tokens": 50},
        {
            "openai": lambda b: b["max_completion_tokens"] == 50,
            "anthropic": lambda b: b["max_tokens"] == 50,
            "gemini": lambda b: gen(b)["maxOutputTokens"] == 50,
        },
    ),
    "stop": (
        {"stop": ["END"]},
        {
            "openai": lambda b: b["stop"] == ["END"],
            "anthropic": lambda b: b["stop_sequences"] == ["END"],
            "gemini": lambda b: gen(b)["stopSequences"] == ["END"],
        },
    ),
    "tools": (
        {"tools": TOOLS},
        {
            "openai": lambda b: b["tools"][0]["function"]["name"] == "lookup",
            "anthropic": lambda b: (
                b["tools"][0]["input_schema"]["properties"] == {"query": {"type": "string"}}
            ),
            "gemini": lambda b: b["tools"][0]["functionDeclarations"][0]["name"] == "lookup",
        },
    ),
    "tool_choice": (
        {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "lookup"}}},
        {
            "openai": lambda b: b["tool_choice"]["function"]["name"] == "lookup",
            "anthropic": lambda b: b["tool_choice"] == {"type": "tool", "name": "lookup"},
            "gemini": lambda b: (
                b["toolConfig"]["functionCallingConfig"]
                == {"mode": "ANY", "allowedFunctionNames": ["lookup"]}
            ),
        },
    ),
    "response_format": (
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": SCHEMA},
            }
        },
        {
            "openai": lambda b: b["response_format"]["json_schema"]["schema"] == SCHEMA,
            "anthropic": lambda b: (
                b["output_config"]["format"] == {"type": "json_schema", "schema": SCHEMA}
            ),
            "gemini": lambda b: (
                gen(b)["responseMimeType"] == "application/json"
                and gen(b)["responseJsonSchema"] == SCHEMA
            ),
        },
    ),
    "reasoning_effort": (
        {"reasoning_effort": "low"},
        {
            "openai": lambda b: b["reasoning_effort"] == "low",
            # The runtime caps max_tokens at the model's 4096: thinking fits below it.
            "anthropic": lambda b: (
                b["thinking"] == {"type": "enabled", "budget_tokens": 2048}
                and b["max_tokens"] == 4096
            ),
            # The SDK sends this object's keys in snake case (the API takes both spellings).
            "gemini": lambda b: (
                gen(b)["thinkingConfig"] == {"thinking_budget": 1024, "include_thoughts": True}
            ),
        },
    ),
    "seed": (
        {"seed": 42},
        {
            "openai": lambda b: b["seed"] == 42,
            "anthropic": "ignored",
            "gemini": lambda b: gen(b)["seed"] == 42,
        },
    ),
    "frequency_penalty": (
        {"frequency_penalty": 0.5},
        {
            "openai": lambda b: b["frequency_penalty"] == 0.5,
            "anthropic": "ignored",
            "gemini": lambda b: gen(b)["frequencyPenalty"] == 0.5,
        },
    ),
    "presence_penalty": (
        {"presence_penalty": -0.5},
        {
            "openai": lambda b: b["presence_penalty"] == -0.5,
            "anthropic": "ignored",
            "gemini": lambda b: gen(b)["presencePenalty"] == -0.5,
        },
    ),
    "logprobs": (
        {"logprobs": True},
        {"openai": lambda b: b["logprobs"] is True, "anthropic": "refused", "gemini": "refused"},
    ),
    "top_logprobs": (
        {"logprobs": True, "top_logprobs": 2},
        {"openai": lambda b: b["top_logprobs"] == 2, "anthropic": "refused", "gemini": "refused"},
    ),
    "parallel_tool_calls": (
        {"tools": TOOLS, "parallel_tool_calls": False},
        {
            "openai": lambda b: b["parallel_tool_calls"] is False,
            "anthropic": lambda b: (
                b["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
            ),
            "gemini": "ignored",
        },
    ),
    "user": (
        {"user": "user-1234"},
        {
            "openai": lambda b: b["user"] == "user-1234",
            "anthropic": lambda b: b["metadata"] == {"user_id": "user-1234"},
            "gemini": "ignored",
        },
    ),
    "metadata": (
        {"metadata": {"team": "search"}},
        {
            "openai": lambda b: b["metadata"] == {"team": "search"},
            "anthropic": "ignored",
            "gemini": "ignored",
        },
    ),
    "service_tier": (
        {"service_tier": "default"},
        {
            "openai": lambda b: b["service_tier"] == "default",
            "anthropic": lambda b: b["service_tier"] == "standard_only",
            "gemini": "ignored",
        },
    ),
    "cache_control": (
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Say hi", "cache_control": CACHED}],
                }
            ]
        },
        {
            "openai": "ignored",
            "anthropic": lambda b: first_message(b)["content"][0]["cache_control"] == CACHED,
            "gemini": "ignored",
        },
    ),
}


def test_rows_cover_the_support_table():
    """A row here for every parameter the adapters' table decides on, and the same verdicts."""
    assert set(ROWS) == set(SUPPORT["openai"])
    for param, (_, expected) in ROWS.items():
        for kind in KINDS:
            verdict = SUPPORT[kind][param]
            if expected[kind] in ("ignored", "refused"):
                assert verdict == expected[kind], (param, kind)
            else:
                assert verdict in ("passed", "translated"), (param, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_parameter_rows(client, serve, kind):
    """Every row, served by one kind (one database set-up: live-server tests are slow)."""
    fake = serve(kind)
    for param in ROWS:
        fake.reset()
        check_row(client, fake, param, kind)


def check_row(client, fake, param, kind):
    arguments, expected = ROWS[param]
    arguments = {"messages": [{"role": "user", "content": "Say hi"}], **arguments}
    outcome = expected[kind]
    if outcome == "refused":
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="assistant", **arguments)
        assert caught.value.status_code == 400, param
        assert caught.value.body["param"] == "logprobs", param
        assert "logprobs" in caught.value.body["message"]
        assert fake.requests == [], param  # refused before any network call
        return
    raw = client.chat.completions.with_raw_response.create(model="assistant", **arguments)
    assert raw.parse().choices[0].message.role == "assistant"
    [received] = [r for r in fake.requests if r.method == "POST"]
    ignored = raw.headers.get("x-ignored-params", "").split(",")
    if outcome == "ignored":
        assert param in ignored, param
        assert not keys(received.body) & WIRE_NAMES.get(param, {param}), (param, received.body)
    else:
        assert param not in ignored, param
        assert outcome(received.body), (param, received.body)


def test_no_header_when_nothing_is_ignored(client, serve):
    serve("anthropic")
    raw = client.chat.completions.with_raw_response.create(
        model="assistant", messages=[{"role": "user", "content": "Say hi"}], max_tokens=20
    )
    assert "x-ignored-params" not in raw.headers


def test_ignored_params_listed_together_streamed(client, serve):
    fake = serve("anthropic")
    response = client.chat.completions.with_raw_response.create(
        model="assistant",
        messages=[{"role": "user", "content": "Say hi"}],
        temperature=0.2,
        seed=7,
        service_tier="flex",
        store=True,
        stream=True,
    )
    assert response.headers["x-ignored-params"] == "temperature,seed,service_tier,store"
    text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert "Say hi" in text
    body = fake.last_request().body
    assert "service_tier" not in body and "temperature" not in body


REFUSED_OR_MALFORMED = [
    ({"functions": [{"name": "f", "parameters": {}}]}, "functions"),
    ({"function_call": "auto"}, "function_call"),
    ({"logit_bias": {"50256": -100}}, "logit_bias"),
    ({"modalities": ["text", "audio"]}, "modalities"),
    ({"web_search_options": {"search_context_size": "low"}}, "web_search_options"),
    ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ({"top_logprobs": 3}, "top_logprobs"),
    ({"frequency_penalty": 3}, "frequency_penalty"),
    ({"service_tier": "fastest"}, "service_tier"),
    ({"metadata": {"n": 1}}, "metadata"),
    ({"user": 12}, "user"),
    ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
    ({"seed": 1.5}, "seed"),
    ({"logprobs": "yes"}, "logprobs"),
    ({"messages": [{"role": "user", "content": "hi", "cache_control": "yes"}]}, "messages[0]"),
    (
        {"messages": [{"role": "assistant", "content": "hi", "reasoning_content": 3}]},
        "messages[0]",
    ),
    (
        {"messages": [{"role": "assistant", "content": "", "thinking_blocks": [{"type": "x"}]}]},
        "messages[0].thinking_blocks[0]",
    ),
    ({"messages": [{"role": "assistant", "content": "", "thinking_blocks": {}}]}, "messages[0]"),
    ({"tools": [{**TOOLS[0], "cache_control": {"type": "persistent"}}]}, "tools[0].cache_control"),
    (
        {"tools": [{**TOOLS[0], "cache_control": {"type": "ephemeral", "ttl": "2h"}}]},
        "tools[0].cache_control",
    ),
]


def test_refused_everywhere_or_malformed(client, serve):
    """400 naming the parameter, for any provider kind, before any network call."""
    fake = serve("openai")
    for extra, param in REFUSED_OR_MALFORMED:
        body = {"messages": [{"role": "user", "content": "hi"}], **extra}
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="assistant", **body)
        assert caught.value.body["param"].startswith(param), (param, caught.value.body)
    assert fake.requests == []


def test_selection_cache_prompt_reaches_anthropic(client, anthropic_fake):
    provider = provider_create(anthropic_fake, slug="an", kind="anthropic")
    selection_set(
        "assistant",
        model_create(provider, "claude-haiku-4-5"),
        system_prompt="Be brief.",
        cache_prompt=True,
    )
    client.chat.completions.create(
        model="assistant", messages=[{"role": "user", "content": "hi"}], tools=TOOLS
    )
    body = anthropic_fake.last_request().body
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": CACHED}]
    assert body["tools"][-1]["cache_control"] == CACHED
