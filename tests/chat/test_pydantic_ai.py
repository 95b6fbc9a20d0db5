"""The PydanticAI bridge: agents on GatewayModel against each fake provider, and the native
models of provider_model with their usage records.

Runs go through `async_to_sync(agent.run)` as Django code should call them: the event loop
runs in a worker thread and the runtime's database work comes back to this thread, inside the
test's transaction.
"""

from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters

from chat.integrations.pydantic_ai import GatewayModel, provider_model
from chat.integrations.pydantic_ai.convert import chat_request_build, usage_from, usage_map
from chat.types import CallContext
from providers.adapters.types import ImagePart, Usage
from providers.models import ModelSelection
from providers.services.selection import model_selection_update
from tests.chat.helpers import model_create, provider_create, selection_set
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash"}


class City(BaseModel):
    city: str
    country: str


@pytest.fixture(params=["openai", "anthropic", "gemini"])
def fake(request: pytest.FixtureRequest) -> Any:
    """Each fake in turn, behind the service "agent"."""
    kind = request.param
    server = request.getfixturevalue(f"{kind}_fake")
    if kind == "gemini" and MODELS["gemini"] not in server.models:
        server.models.append(MODELS["gemini"])
    model = model_create(provider_create(server, slug=f"{kind}-fake", kind=kind), MODELS[kind])
    selection_set("agent", model)
    server.kind = kind
    return server


def _run(agent: Agent, prompt: str) -> Any:
    return async_to_sync(agent.run)(prompt)


def test_a_tool_calling_conversation_runs_and_records_each_model_request(fake) -> None:
    agent = Agent(GatewayModel("agent"), instructions="Be brief.")
    seen: list[str] = []

    @agent.tool_plain
    def lookup(query: str) -> str:
        """Look something up."""
        seen.append(query)
        return "Paris is the capital of France"

    result = _run(agent, "capital of France?")
    assert seen == ["capital of France?"]
    assert "Tool result: Paris is the capital of France" in result.output
    records = list(UsageRecord.objects.order_by("id"))
    assert len(records) == 2  # the tool call, then the answer
    assert {r.service for r in records} == {"agent"}
    assert {r.outcome for r in records} == {"ok"}
    assert len({r.request_id for r in records}) == 2
    assert all(r.cost and r.cost > 0 for r in records)
    usage = result.usage
    assert usage.requests == 2
    assert usage.input_tokens == sum(r.input_tokens + r.cached_input_tokens for r in records)
    last = result.all_messages()[-1]
    assert isinstance(last, ModelResponse)
    assert last.provider_details["usage_record_id"] == records[-1].pk
    assert Decimal(last.provider_details["cost"]) == records[-1].cost
    assert last.usage.cost == records[-1].cost
    # The instructions went out as the system prompt.
    assert "Be brief." in str(fake.requests[0].body)


def test_a_streamed_run_streams_text_and_records_the_stream(fake) -> None:
    fake.reply_text = "one two three four five six"
    agent = Agent(GatewayModel("agent"))

    async def run() -> tuple[list[str], Any]:
        async with agent.run_stream("count") as stream:
            chunks = [chunk async for chunk in stream.stream_text(delta=True, debounce_by=None)]
        return chunks, stream

    chunks, stream = async_to_sync(run)()
    assert "".join(chunks) == "one two three four five six"
    assert len(chunks) > 1
    record = UsageRecord.objects.get()
    assert record.streamed and record.outcome == "ok" and record.service == "agent"
    assert record.output_tokens > 0 and record.cost > 0
    assert stream.usage.output_tokens == record.output_tokens + record.reasoning_tokens


def test_a_structured_output_run_returns_the_validated_object(fake) -> None:
    fake.tool_arguments = {"city": "Paris", "country": "France"}
    agent = Agent(GatewayModel("agent"), output_type=City)
    result = _run(agent, "Where is the Eiffel tower?")
    assert result.output == City(city="Paris", country="France")
    record = UsageRecord.objects.get()
    assert record.outcome == "ok" and record.cost > 0
    # The output tool was offered and its use required.
    body = fake.requests[-1].body
    assert "final_result" in str(body)


def test_a_streamed_tool_call_reaches_the_tool(fake) -> None:
    fake.tool_arguments = {"city": "Rome", "country": "Italy"}
    agent = Agent(GatewayModel("agent"), output_type=City)

    async def run() -> City:
        async with agent.run_stream("Colosseum?") as stream:
            return await stream.get_output()

    assert async_to_sync(run)() == City(city="Rome", country="Italy")
    record = UsageRecord.objects.get()
    assert record.streamed and record.outcome == "ok"


def test_native_structured_output_asks_for_the_json_schema(openai_fake) -> None:
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("agent", model)
    openai_fake.reply_text = '{"city": "Oslo", "country": "Norway"}'
    result = _run(Agent(GatewayModel("agent"), output_type=NativeOutput(City)), "Oslo?")
    assert result.output == City(city="Oslo", country="Norway")
    assert openai_fake.requests[-1].body["response_format"]["type"] == "json_schema"


def test_a_selection_change_applies_to_the_next_request(
    openai_fake, anthropic_fake, django_capture_on_commit_callbacks
) -> None:
    first = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    second = model_create(
        provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
    )
    selection_set("agent", first)
    agent = Agent(GatewayModel("agent"))
    assert "OpenAI fake" in _run(agent, "hi").output
    with django_capture_on_commit_callbacks(execute=True):
        model_selection_update(
            selection=ModelSelection.objects.get(service="agent"), primary=second.model_string
        )
    assert "Anthropic fake" in _run(agent, "hi").output
    served = list(UsageRecord.objects.order_by("id").values_list("model_string", flat=True))
    assert served == [first.model_string, second.model_string]


def test_fallbacks_serve_when_the_primary_fails(openai_fake, anthropic_fake) -> None:
    primary = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    backup = model_create(
        provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
    )
    selection_set("agent", primary, (backup,))
    openai_fake.faults.status = 500
    result = _run(Agent(GatewayModel("agent")), "hi")
    assert "Anthropic fake" in result.output
    outcomes = list(UsageRecord.objects.order_by("id").values_list("outcome", "is_fallback"))
    assert outcomes[-1] == ("ok", True)
    assert all(outcome != "ok" for outcome, _ in outcomes[:-1])


def test_a_failed_call_is_a_model_http_error_with_the_gateway_code(openai_fake) -> None:
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("agent", model)
    openai_fake.faults.status = 401
    with pytest.raises(ModelHTTPError) as caught:
        _run(Agent(GatewayModel("agent")), "hi")
    assert caught.value.status_code == 502
    assert caught.value.body["error"]["code"] == caught.value.provider_error_code
    assert openai_fake.api_key not in str(caught.value)
    with pytest.raises(ModelHTTPError) as unknown:
        _run(Agent(GatewayModel("no_such_service")), "hi")
    assert unknown.value.status_code == 404


def test_the_context_is_kept_on_the_records(openai_fake, django_user_model) -> None:
    user = django_user_model.objects.create(username="agent-owner")
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("agent", model)
    gateway = GatewayModel("agent", context=CallContext(user_id=user.pk, request_id="fixed"))
    _run(Agent(gateway), "hi")
    _run(Agent(gateway), "hi again")
    records = list(UsageRecord.objects.all())
    assert {r.user_id for r in records} == {user.pk}
    assert len({r.request_id for r in records}) == 2 and "fixed" not in {
        r.request_id for r in records
    }
    assert gateway.model_name == "agent" and gateway.system == "llm-control-plane"
    assert gateway != GatewayModel("other")


# -- conversion ------------------------------------------------------------------------------
# The legacy RetryPromptPart is mapped on purpose (PydanticAI warns with a UserWarning of its own).
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:`RetryPromptPart` is deprecated")
def test_history_parts_map_to_the_gateway_messages() -> None:
    from pydantic_ai.messages import ImageUrl

    messages = [
        ModelRequest(
            parts=[
                SystemPromptPart(content="sys"),
                UserPromptPart(content=["look", ImageUrl(url="https://example.com/a.png")]),
            ]
        ),
        ModelResponse(
            parts=[TextPart(content="calling"), ToolCallPart("find", {"q": 1}, tool_call_id="c1")]
        ),
        ModelRequest(parts=[ToolReturnPart("find", "found", tool_call_id="c1")]),
        ModelResponse(parts=[ToolCallPart("find", {"q": 2}, tool_call_id="c2")]),
        ModelRequest(parts=[RetryPromptPart("bad args", tool_name="find", tool_call_id="c2")]),
        ModelRequest(parts=[RetryPromptPart("try again")]),
    ]
    request = chat_request_build(
        model="svc",
        messages=messages,
        instructions=["Be kind."],
        settings={"temperature": 0.5, "max_tokens": 9, "stop_sequences": ["END"]},
        parameters=ModelRequestParameters(),
    )
    roles = [m.role for m in request.messages]
    assert roles == ["system", "system", "user", "assistant", "tool", "assistant", "tool", "user"]
    assert request.messages[1].content == "Be kind."
    assert isinstance(request.messages[2].content[1], ImagePart)
    assert request.messages[3].tool_calls[0].arguments == '{"q":1}'
    assert request.messages[4].tool_call_id == "c1" and request.messages[4].name == "find"
    assert "bad args" in request.messages[6].text
    assert (request.temperature, request.max_tokens, request.stop) == (0.5, 9, ("END",))


def test_usage_buckets_round_trip() -> None:
    usage = Usage(
        input_tokens=10,
        cached_input_tokens=5,
        cache_write_tokens=2,
        output_tokens=7,
        reasoning_tokens=3,
    )
    mapped = usage_map(usage, Decimal("0.01"))
    assert (mapped.input_tokens, mapped.cache_read_tokens, mapped.output_tokens) == (17, 5, 10)
    assert mapped.cost == Decimal("0.01")
    back = usage_from(mapped)
    assert (back.input_tokens, back.cached_input_tokens, back.cache_write_tokens) == (10, 5, 2)
    assert (back.output_tokens, back.reasoning_tokens) == (7, 3)


# -- native models ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_a_native_model_calls_the_provider_and_records_usage(request, kind: str) -> None:
    server = request.getfixturevalue(f"{kind}_fake")
    if MODELS[kind] not in server.models:
        server.models.append(MODELS[kind])
    model = model_create(provider_create(server, slug=f"{kind}-direct", kind=kind), MODELS[kind])
    native = provider_model(model.model_string)
    result = _run(Agent(native), "hello")
    assert "fake" in result.output
    record = UsageRecord.objects.get()
    assert record.model_string == model.model_string and record.service == ""
    assert record.outcome == "ok" and record.input_tokens > 0 and record.cost > 0
    # The stored key was sent, to the stored base URL.
    assert server.requests

    async def stream() -> str:
        async with Agent(native).run_stream("again") as run:
            return await run.get_output()

    assert "fake" in async_to_sync(stream)()
    streamed = UsageRecord.objects.get(streamed=True)
    assert streamed.outcome == "ok" and streamed.output_tokens > 0


def test_a_native_model_records_a_failed_request(openai_fake) -> None:
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    openai_fake.faults.status = 429
    with pytest.raises(ModelHTTPError):
        _run(Agent(provider_model(model.model_string)), "hi")
    record = UsageRecord.objects.get()
    assert record.outcome != "ok" and record.cost == 0


def test_provider_model_refuses_services_and_unbound_keys(openai_fake) -> None:
    from config.errors import InvalidInput
    from providers.adapters.errors import ProviderKeyUnboundError
    from providers.models import ProviderConfig

    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("agent", model)
    with pytest.raises(InvalidInput):
        provider_model("agent")
    ProviderConfig.objects.filter(slug="oa").update(base_url="http://127.0.0.2:1/v1")
    from providers.selectors import resolution_local_clear

    resolution_local_clear()
    with pytest.raises(ProviderKeyUnboundError):
        provider_model(model.model_string)


def test_the_native_models_http_client_follows_the_egress_policy(openai_fake) -> None:
    import httpx2

    from providers.adapters.egress import DestinationRefused, guarded_async_http_client

    async def get(allowed: tuple[str, ...]) -> int:
        async with guarded_async_http_client(allowed=allowed, timeout=5) as client:
            return (await client.get(f"{openai_fake.url}/v1/models")).status_code

    assert async_to_sync(get)(("127.0.0.0/8",)) == 401  # reached the fake (no key sent)
    with pytest.raises(httpx2.ConnectError) as refused:
        async_to_sync(get)(())
    assert isinstance(refused.value.__context__ or refused.value.__cause__, DestinationRefused) or (
        "PROVIDER_ALLOWED_NETWORKS" in str(refused.value)
    )
