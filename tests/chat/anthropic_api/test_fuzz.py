"""Property-based fuzzing of /anthropic/v1/messages and count_tokens, as tests/chat/
test_api_fuzz.py does for /v1: bodies that look like what Anthropic clients send (content
blocks, tool_use/tool_result, tools, tool_choice, thinking, cache_control) with arbitrary or
hostile JSON (tests.hostile) in any field. The answer is a 2xx or a 4xx in Anthropic's error
shape, never a 5xx; a streamed 200 ends with message_stop or an error event; no key leaks."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.chat.test_api_fuzz import FUZZ, assert_well_formed, json_values
from tests.chat.test_api_fuzz import maybe as maybe_wrong
from tests.chat.test_api_fuzz import secret as secret
from tests.chat.test_api_fuzz import upstream_keys as upstream_keys
from tests.hostile import dumps, with_hostile_field

pytestmark = pytest.mark.django_db

ANTHROPIC_ERROR = {"type", "message"}


def maybe(strategy: st.SearchStrategy, odds: int = 30) -> st.SearchStrategy:
    """As /v1's fuzz, each field rarely wrong: Anthropic bodies have more fields, and most
    bodies should still reach a provider (and stream)."""
    return maybe_wrong(strategy, odds)


texts = st.text(max_size=30)
images = st.fixed_dictionaries(
    {
        "type": st.just("image"),
        "source": maybe(
            st.one_of(
                st.fixed_dictionaries(
                    {
                        "type": st.just("base64"),
                        "media_type": maybe(st.just("image/png")),
                        "data": maybe(st.just("iVBORw0KGgo=")),
                    }
                ),
                st.fixed_dictionaries(
                    {
                        "type": st.just("url"),
                        "url": maybe(st.sampled_from(["https://x/a.png"] * 3 + ["x"])),
                    }
                ),
            )
        ),
    }
)
user_blocks = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"type": maybe(st.sampled_from(["text"] * 5 + ["document"])), "text": maybe(texts)},
            optional={"cache_control": maybe(st.just({"type": "ephemeral"}))},
        ),
        images,
        st.fixed_dictionaries(
            {
                "type": st.just("tool_result"),
                "tool_use_id": maybe(st.sampled_from(["toolu_1", "toolu_2"])),
            },
            optional={
                "content": maybe(
                    st.one_of(
                        texts,
                        st.lists(
                            st.fixed_dictionaries({"type": st.just("text"), "text": texts}),
                            max_size=2,
                        ),
                    )
                ),
                "is_error": maybe(st.booleans()),
            },
        ),
    ),
    max_size=3,
)
assistant_blocks = st.lists(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": maybe(texts)}),
        st.fixed_dictionaries(
            {"type": st.just("thinking"), "thinking": texts, "signature": maybe(texts)}
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("tool_use"),
                "id": maybe(st.sampled_from(["toolu_1", "toolu_2"])),
                "name": maybe(st.sampled_from(["lookup", ""])),
                "input": maybe(st.just({"query": "x"})),
            }
        ),
    ),
    max_size=3,
)
messages = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "role": maybe(st.sampled_from(["user"] * 5 + ["system"])),
                "content": maybe(st.one_of(st.text(min_size=1, max_size=30), user_blocks)),
            }
        ),
        st.fixed_dictionaries(
            {"role": st.just("assistant"), "content": maybe(st.one_of(texts, assistant_blocks))}
        ),
    ),
    min_size=1,
    max_size=4,
)
tools = st.lists(
    st.fixed_dictionaries(
        {"name": maybe(st.from_regex(r"[a-z_]{1,12}", fullmatch=True))},
        optional={
            "type": maybe(st.sampled_from(["custom"] * 5 + ["web_search_20250305"])),
            "description": maybe(texts),
            "input_schema": maybe(st.just({"type": "object", "properties": {}})),
            "cache_control": maybe(st.just({"type": "ephemeral"})),
        },
    ),
    max_size=2,
)
models = st.sampled_from(["svc", "oa:gpt-4o-mini", "an:claude-haiku-4-5", "nope", "oa:", ":"])
bodies = st.fixed_dictionaries(
    {
        "model": maybe(models),
        "max_tokens": maybe(st.integers(min_value=1, max_value=4096), odds=12),
        "messages": maybe(messages),
    },
    optional={
        "system": maybe(
            st.one_of(
                texts,
                st.lists(
                    st.fixed_dictionaries({"type": st.just("text"), "text": texts}), max_size=2
                ),
            )
        ),
        "stream": maybe(st.booleans()),
        "temperature": maybe(st.floats(min_value=0, max_value=1)),
        "top_p": maybe(st.floats(min_value=0, max_value=1)),
        "top_k": maybe(st.integers(min_value=-1, max_value=500)),
        "stop_sequences": maybe(st.lists(st.text(max_size=5), max_size=3)),
        "tools": maybe(tools),
        "tool_choice": maybe(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["auto", "any", "tool", "none", "weird"])},
                optional={"name": maybe(st.just("lookup"))},
            )
        ),
        "thinking": maybe(st.just({"type": "enabled", "budget_tokens": 1024})),
        "metadata": maybe(st.fixed_dictionaries({"user_id": maybe(texts)})),
        "cache_control": maybe(st.just({"type": "ephemeral"})),
        "output_config": maybe(
            st.just({"format": {"type": "json_schema", "schema": {"type": "object"}}})
        ),
        "service_tier": json_values,
    },
)

streamed = bodies.map(lambda body: {**body, "stream": True})


@pytest.mark.parametrize("path", ["", "/count_tokens"], ids=["messages", "count_tokens"])
def test_anthropic_api_never_answers_5xx(path, client, secret, upstream_keys):
    @FUZZ
    @given(body=st.one_of(bodies, streamed, bodies, bodies.flatmap(with_hostile_field)))
    def run(body) -> None:
        response = client.post(
            "/anthropic/v1/messages" + path,
            data=dumps(body),
            content_type="application/json",
            HTTP_X_API_KEY=secret,
            HTTP_ANTHROPIC_VERSION="2023-06-01",
        )
        assert_well_formed(
            response,
            error_keys=ANTHROPIC_ERROR,
            secrets=(*upstream_keys, secret),
            stream_end="event: message_stop",
        )

    run()
