"""Property-based fuzzing of what programs call: /v1 (chat completions, embeddings, responses)
and the conversations API, with bodies that look like real requests but carry arbitrary JSON where
programs get things wrong (roles, content parts, tools, sampling parameters, stream options).

Any field may also be hostile (tests.hostile): nested thousands deep, NUL bytes, unpaired
surrogates, huge or non-finite numbers. Whatever the body, the answer is a 2xx or a 4xx in the
API's error shape, never a 5xx; a streamed 200 ends with [DONE] or an error event; no provider
key appears in any answer.
Bounded (derandomized, a fixed number of examples) so the suite stays fast and repeatable.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.hostile import dumps, hostile_path_segments, hostile_values, with_hostile_field

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy, odds: int = 12) -> st.SearchStrategy:
    """The plausible value, or (about one time in `odds`) any JSON value or a hostile one:
    most bodies are valid enough to reach a provider, and each field is sometimes wrong on
    its own."""
    return st.integers(0, odds - 1).flatmap(
        lambda roll: st.one_of(json_values, hostile_values) if roll == odds - 1 else strategy
    )


cache_controls = maybe(
    st.sampled_from([{"type": "ephemeral"}, {"type": "ephemeral", "ttl": "1h"}, {"ttl": "9h"}])
)
thinking_blocks = st.lists(
    maybe(
        st.sampled_from(
            [
                {"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "redacted_thinking", "data": "d"},
                {"type": "thinking"},
            ]
        )
    ),
    max_size=2,
)
content_parts = st.lists(
    st.fixed_dictionaries(
        {"type": maybe(st.sampled_from(["text", "text", "image_url", "input_audio"]))},
        optional={
            "text": maybe(st.text(max_size=30)),
            "cache_control": cache_controls,
            "image_url": maybe(
                st.fixed_dictionaries(
                    {"url": st.sampled_from(["data:image/png;base64,iVBORw0KGgo=", "x", ""])},
                    optional={"detail": json_values},
                )
            ),
        },
    ),
    max_size=3,
)
tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "id": maybe(st.text(max_size=10)),
            "type": maybe(st.just("function")),
            "function": maybe(
                st.fixed_dictionaries(
                    {
                        "name": maybe(st.text(max_size=10)),
                        "arguments": maybe(st.sampled_from(["{}", '{"a": 1}', "not json", ""])),
                    }
                )
            ),
        }
    ),
    max_size=2,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": maybe(st.sampled_from(["system", "developer", "user", "user", "assistant"])),
        },
        optional={
            "content": maybe(st.one_of(st.text(min_size=1, max_size=40), content_parts)),
            "tool_calls": maybe(tool_calls),
            "name": maybe(st.text(max_size=10)),
            "cache_control": cache_controls,
            "reasoning_content": maybe(st.text(max_size=20)),
            "thinking_blocks": maybe(thinking_blocks),
        },
    ),
    min_size=1,
    max_size=4,
)
tools = st.lists(
    st.fixed_dictionaries(
        {
            "type": maybe(st.just("function")),
            "cache_control": cache_controls,
            "function": maybe(
                st.fixed_dictionaries(
                    {"name": maybe(st.from_regex(r"[a-z_]{1,12}", fullmatch=True))},
                    optional={
                        "description": maybe(st.text(max_size=20)),
                        "parameters": maybe(st.just({"type": "object", "properties": {}})),
                    },
                )
            ),
        }
    ),
    max_size=2,
)
models = st.sampled_from(["svc", "oa:gpt-4o-mini", "an:claude-haiku-4-5", "nope", "oa:", ":"])
chat_bodies = st.fixed_dictionaries(
    {"model": maybe(models), "messages": maybe(messages)},
    optional={
        "stream": maybe(st.booleans()),
        "stream_options": maybe(st.fixed_dictionaries({"include_usage": maybe(st.booleans())})),
        "temperature": maybe(st.floats(min_value=-1, max_value=3)),
        "top_p": maybe(st.floats(min_value=-1, max_value=2)),
        "max_tokens": maybe(st.integers(min_value=-5, max_value=10**9)),
        "max_completion_tokens": maybe(st.integers(min_value=-5, max_value=10**9)),
        "stop": maybe(st.one_of(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=5))),
        "n": maybe(st.just(1), odds=4),
        "tools": maybe(tools),
        "tool_choice": maybe(st.sampled_from(["auto", "none", "required", "weird"])),
        "response_format": maybe(st.sampled_from([{"type": "json_object"}, {"type": "text"}])),
        "seed": maybe(st.integers(min_value=-(2**70), max_value=2**70)),
        "user": maybe(st.text(max_size=20)),
        "reasoning_effort": maybe(st.sampled_from(["none", "low", "high", "xhigh", "max"])),
        "frequency_penalty": maybe(st.floats(min_value=-3, max_value=3)),
        "presence_penalty": maybe(st.floats(min_value=-3, max_value=3)),
        "logprobs": maybe(st.booleans()),
        "top_logprobs": maybe(st.integers(min_value=-1, max_value=25)),
        "parallel_tool_calls": maybe(st.booleans()),
        "metadata": maybe(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)),
        "service_tier": maybe(st.sampled_from(["auto", "default", "flex", "turbo"])),
        "logit_bias": maybe(st.just({})),
        "store": maybe(st.booleans()),
    },
)
embedding_bodies = st.fixed_dictionaries(
    {
        "model": maybe(st.sampled_from(["emb", "oa:text-embedding-3-small", "svc", "nope"])),
        "input": maybe(
            st.one_of(
                st.text(min_size=1, max_size=30),
                st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=4),
                st.lists(st.integers(min_value=-1, max_value=50_000), max_size=4),
            ),
            odds=6,
        ),
    },
    optional={
        "encoding_format": maybe(st.sampled_from(["float", "base64", "int8"])),
        "dimensions": maybe(st.integers(min_value=-1, max_value=4096)),
        "user": json_values,
    },
)

input_parts = st.lists(
    st.fixed_dictionaries(
        {"type": maybe(st.sampled_from(["input_text", "input_text", "input_image", "input_file"]))},
        optional={
            "text": maybe(st.text(max_size=30)),
            "image_url": maybe(st.sampled_from(["data:image/png;base64,iVBORw0KGgo=", "x", ""])),
        },
    ),
    max_size=3,
)
input_items = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"role": maybe(st.sampled_from(["user", "user", "assistant", "developer", "system"]))},
            optional={
                "type": maybe(st.just("message")),
                "content": maybe(st.one_of(st.text(min_size=1, max_size=40), input_parts)),
            },
        ),
        st.fixed_dictionaries(
            {
                "type": maybe(st.sampled_from(["function_call", "function_call_output"])),
                "call_id": maybe(st.sampled_from(["call_1", "call_2"])),
            },
            optional={
                "name": maybe(st.from_regex(r"[a-z_]{1,12}", fullmatch=True)),
                "arguments": maybe(st.sampled_from(["{}", '{"a": 1}', "not json"])),
                "output": maybe(st.text(max_size=20)),
            },
        ),
        st.fixed_dictionaries({"type": maybe(st.sampled_from(["reasoning", "item_reference"]))}),
    ),
    min_size=1,
    max_size=4,
)
flat_tools = st.lists(
    st.fixed_dictionaries(
        {
            "type": maybe(st.sampled_from(["function", "function", "web_search"])),
            "name": maybe(st.from_regex(r"[a-z_]{1,12}", fullmatch=True)),
        },
        optional={
            "description": maybe(st.text(max_size=20)),
            "parameters": maybe(st.just({"type": "object", "properties": {}})),
            "strict": maybe(st.booleans()),
        },
    ),
    max_size=2,
)
responses_bodies = st.fixed_dictionaries(
    {
        "model": maybe(models),
        "input": maybe(st.one_of(st.text(min_size=1, max_size=40), input_items)),
    },
    optional={
        "instructions": maybe(st.text(max_size=30)),
        "stream": maybe(st.booleans()),
        "store": maybe(st.booleans()),
        "previous_response_id": maybe(st.sampled_from(["resp_missing", "", "x" * 70])),
        "temperature": maybe(st.floats(min_value=-1, max_value=3)),
        "top_p": maybe(st.floats(min_value=-1, max_value=2)),
        "max_output_tokens": maybe(st.integers(min_value=-5, max_value=10**9)),
        "tools": maybe(flat_tools),
        "tool_choice": maybe(st.sampled_from(["auto", "none", "required", "weird"])),
        "text": maybe(
            st.fixed_dictionaries(
                {"format": maybe(st.sampled_from([{"type": "json_object"}, {"type": "text"}]))}
            )
        ),
        "truncation": maybe(st.sampled_from(["auto", "disabled"])),
        "metadata": json_values,
        "reasoning": json_values,
        "include": json_values,
    },
)


@pytest.fixture
def upstream_keys(openai_fake, anthropic_fake) -> tuple[str, ...]:
    return (openai_fake.api_key, anthropic_fake.api_key)


@pytest.fixture
def secret(openai_fake, anthropic_fake) -> str:
    primary = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    fallback = model_create(
        provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
    )
    selection_set("svc", primary, (fallback,))
    embedding = model_create(
        primary.provider, "text-embedding-3-small", kind="embedding", capabilities=[]
    )
    selection_set("emb", embedding)
    return ConsumerAPIKey.objects.create_key(name="fuzz")[1]


def answer_text(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def assert_well_formed(
    response, *, error_keys: set[str], secrets: tuple[str, ...], stream_end: str
) -> None:
    text = answer_text(response)
    assert response.status_code < 500, text[:500]
    assert not any(secret in text for secret in secrets)
    if response.status_code >= 400:
        error = json.loads(text)["error"]
        assert set(error) == error_keys and error["message"]
    elif response.streaming:
        last_event = text.rstrip().rsplit("\n\n", 1)[-1]
        ends = stream_end if isinstance(stream_end, tuple) else (stream_end,)
        assert last_event.startswith((*ends, "event: error")), text[-300:]


OPENAI_ERROR = {"message", "type", "param", "code"}
PROJECT_ERROR = {"code", "message", "details"}


STREAM_ENDS = {
    "/v1/chat/completions": "data: [DONE]",
    "/v1/embeddings": "data: [DONE]",
    "/v1/responses": ("event: response.completed", "event: response.incomplete"),
}


@pytest.mark.parametrize(
    ("url", "bodies"),
    [
        ("/v1/chat/completions", chat_bodies),
        ("/v1/embeddings", embedding_bodies),
        ("/v1/responses", responses_bodies),
    ],
    ids=["chat", "embeddings", "responses"],
)
def test_v1_never_answers_5xx(url, bodies, client, secret, upstream_keys):
    @FUZZ
    @given(body=st.one_of(bodies, bodies, bodies.flatmap(with_hostile_field)))
    def run(body) -> None:
        response = client.post(
            url,
            data=dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        assert_well_formed(
            response,
            error_keys=OPENAI_ERROR,
            secrets=(*upstream_keys, secret),
            stream_end=STREAM_ENDS[url],
        )

    run()


def test_conversation_messages_never_answer_5xx(client, secret, upstream_keys):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    created = client.post(
        "/api/conversations/", {"service": "svc"}, content_type="application/json", **headers
    )
    assert created.status_code == 201, created.content
    url = f"/api/conversations/{created.json()['id']}/messages/"

    @FUZZ
    @given(
        body=st.fixed_dictionaries(
            {"content": maybe(st.one_of(st.text(min_size=1, max_size=40), content_parts))},
            optional={
                "max_tokens": maybe(st.integers(min_value=-1, max_value=10**6)),
                "temperature": maybe(st.floats(min_value=-1, max_value=3)),
            },
        ),
        stream=st.sampled_from(["", "?stream=true"]),
        conversation_body=st.fixed_dictionaries(
            {"service": maybe(models)},
            optional={
                "title": maybe(st.text(max_size=30)),
                "system_prompt": maybe(st.text(max_size=30)),
            },
        ),
    )
    def run(body, stream, conversation_body) -> None:
        response = client.post(
            url + stream, data=dumps(body), content_type="application/json", **headers
        )
        assert_well_formed(
            response,
            error_keys=PROJECT_ERROR,
            secrets=(*upstream_keys, secret),
            stream_end="event: done",
        )
        response = client.post(
            "/api/conversations/",
            data=dumps(conversation_body),
            content_type="application/json",
            **headers,
        )
        assert_well_formed(
            response,
            error_keys=PROJECT_ERROR,
            secrets=(*upstream_keys, secret),
            stream_end="event: done",
        )

    run()


def test_stored_responses_never_answer_5xx(client, secret):
    @FUZZ
    @given(
        segment=st.one_of(hostile_path_segments, st.text(max_size=80)),
        method=st.sampled_from(["get", "delete"]),
    )
    def run(segment, method) -> None:
        from urllib.parse import quote

        path = f"/v1/responses/{quote(segment, safe='%') or 'x'}"
        response = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert response.status_code in (404, 400), response.content[:300]
        if response.status_code == 404 and response["Content-Type"].startswith("application/json"):
            assert set(response.json()["error"]) == OPENAI_ERROR

    run()
