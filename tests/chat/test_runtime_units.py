"""Pure pieces of the runtime: backoff, history trimming, request fitting."""

import pytest

from chat.runtime.request import (
    fits_context,
    history_trim,
    message_tokens_estimate,
    request_with_overrides,
    required_capabilities,
)
from chat.runtime.retry import Deadline, RetryPolicy
from providers.adapters.types import ChatRequest, ImagePart, Message, TextPart, Tool, ToolCall
from providers.resolution import ParameterOverrides


def test_backoff_is_full_jitter_within_the_exponential_cap():
    policy = RetryPolicy(base_seconds=1.0, max_seconds=4.0)
    for retry, cap in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)):
        delays = [policy.backoff(retry_number=retry) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap / 2  # spread over the range, not fixed


def test_retry_after_is_a_floor():
    policy = RetryPolicy(base_seconds=0.1, max_seconds=0.2)
    assert policy.backoff(retry_number=1, retry_after=3.0) == 3.0


def test_zero_base_means_no_wait():
    assert RetryPolicy(base_seconds=0.0).backoff(retry_number=3) == 0.0


def test_deadline_refuses_waits_past_the_budget():
    deadline = Deadline(1.0)
    assert deadline.allows(0.5)
    assert not deadline.allows(5)


def user(text: str) -> Message:
    return Message(role="user", content=text)


def test_trim_drops_oldest_turns_and_keeps_system_and_tool_pairs():
    call = ToolCall(id="c1", name="lookup", arguments="{}")
    messages = (
        Message(role="system", content="rules"),
        user("old " * 100),
        Message(role="assistant", content="", tool_calls=(call,)),
        Message(role="tool", content="result " * 50, tool_call_id="c1"),
        Message(role="assistant", content="answer"),
        user("middle " * 20),
        Message(role="assistant", content="ok"),
        user("latest"),
    )
    budget = sum(message_tokens_estimate(m) for m in messages[5:]) + 10
    trimmed = history_trim(messages, context_window=budget + 50, max_tokens=50)
    assert trimmed[0].role == "system"
    assert [m.role for m in trimmed[1:]] == ["user", "assistant", "user"]
    assert not any(m.role == "tool" for m in trimmed)  # dropped with the call it answers
    assert trimmed[-1].content == "latest"


def test_trim_keeps_everything_that_fits_and_never_the_last_turn():
    messages = (user("a"), Message(role="assistant", content="b"), user("c"))
    assert history_trim(messages, context_window=10_000, max_tokens=100) == messages
    assert history_trim(messages, context_window=None, max_tokens=None) == messages
    tiny = history_trim(messages, context_window=1, max_tokens=0)
    assert tiny == (user("c"),)


def test_fit_check_counts_max_tokens():
    assert fits_context(prompt_tokens=900, max_tokens=100, context_window=1000)
    assert not fits_context(prompt_tokens=901, max_tokens=100, context_window=1000)
    assert fits_context(prompt_tokens=10**9, max_tokens=None, context_window=None)


def test_required_capabilities():
    image = Message(role="user", content=(TextPart("see"), ImagePart("https://x/y.png")))
    request = ChatRequest(model="m", messages=(image,), tools=(Tool(name="t"),), json_output=True)
    assert required_capabilities(request) == {"tools", "vision", "json_output"}
    assert required_capabilities(ChatRequest(model="m", messages=(user("x"),))) == set()


def test_overrides_fill_unset_parameters_and_prepend_the_system_prompt():
    overrides = ParameterOverrides(temperature=0.2, max_tokens=99, system_prompt="house rules")
    request = ChatRequest(model="svc", messages=(user("x"),), temperature=0.9)
    merged = request_with_overrides(request, overrides)
    assert merged.temperature == 0.9 and merged.max_tokens == 99
    assert merged.messages[0] == Message(role="system", content="house rules")


@pytest.mark.django_db
def test_embedding_input_is_validated_before_any_call():
    from chat.services import embedding_run
    from config.errors import InvalidInput
    from providers.adapters.types import EmbeddingRequest

    with pytest.raises(InvalidInput):
        embedding_run(request=EmbeddingRequest(model="x", inputs=()))
