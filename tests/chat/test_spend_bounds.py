"""Spend bounded by construction: the output cap the runtime reserves for is the cap every
provider is sent, the prompt bound holds for every script, provider budgets follow the
provider that served, interrupted streams are charged what they delivered."""

from decimal import Decimal

import pytest

from chat.runtime.bounds import (
    client_max_tokens_check,
    cost_max,
    output_cap,
    prompt_tokens_max,
    text_bytes,
)
from chat.services import chat_completion_run, chat_completion_stream
from config.errors import InvalidInput
from providers.adapters.errors import StreamInterruptedError
from providers.adapters.overheads import OVERHEADS
from providers.adapters.types import (
    ChatRequest,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolCall,
    Usage,
)
from providers.resolution import ModelPrices, ResolvedModel, ResolvedSelection
from tests.chat.helpers import PRICES, model_create, provider_create, selection_set
from usage.models import Budget, BudgetHold, BudgetPeriod, UsageRecord
from usage.pricing import tokens_estimate, usage_cost

PROMPTS = {
    "english": "Summarise the quarterly report and list the three largest risks, briefly.",
    "cjk": "请总结季度报告并列出三个最大的风险。四半期報告書を要約してください。분기 보고서 요약",
    "emoji": "🚀🔥👩‍👩‍👧‍👦🇫🇷✨ deploy now 🎉🎉🎉 👍🏽👍🏿",
    "code": 'def f(x):\n    return {"k": [x ** 2 for x in range(10)]}  # λ → ∑\n\tpass',
}
PRICES_MODEL = ModelPrices(**{k: v for k, v in PRICES.items()})


def candidate(**overrides) -> ResolvedModel:
    values = {
        "model_string": "oa:gpt-4o-mini",
        "model_id": 1,
        "model_name": "gpt-4o-mini",
        "kind": "chat",
        "provider_slug": "oa",
        "provider_kind": "openai",
        "provider_version": "1",
        "provider_max_retries": 1,
        "max_output_tokens": 4096,
        "prices": PRICES_MODEL,
    }
    return ResolvedModel(**{**values, **overrides})


# -- the prompt bound ---------------------------------------------------------------------
@pytest.mark.parametrize("script", sorted(PROMPTS))
@pytest.mark.parametrize("kind", sorted(OVERHEADS))
def test_prompt_bound_covers_one_token_per_byte_for_every_script(script, kind):
    """A byte-level tokenizer never makes more tokens than bytes, a character-level count
    never more than characters: the bound is above both, per message overhead included."""
    text = PROMPTS[script]
    request = ChatRequest(
        model="m",
        messages=(Message(role="system", content="Be brief."), Message(role="user", content=text)),
    )
    bound = prompt_tokens_max(request, kind=kind)
    worst_tokenizer = text_bytes(text) + text_bytes("Be brief.")
    assert bound >= worst_tokenizer + 2 * OVERHEADS[kind].per_message
    assert bound >= len(text)  # one token per character (a hostile upstream's count)


def test_chars_over_four_undercounts_cjk_and_emoji_but_the_bound_does_not():
    for script in ("cjk", "emoji"):
        text = PROMPTS[script]
        assert tokens_estimate(chars=len(text)) < len(text)  # the old guess
        request = ChatRequest(model="m", messages=(Message(role="user", content=text),))
        assert prompt_tokens_max(request, kind="openai") >= len(text.encode())


def test_prompt_bound_counts_images_tools_and_tool_calls():
    plain = ChatRequest(model="m", messages=(Message(role="user", content="hi"),))
    rich = ChatRequest(
        model="m",
        messages=(
            Message(
                role="user",
                content=(TextPart("hi"), ImagePart("https://example.invalid/a.png")),
            ),
            Message(
                role="assistant",
                tool_calls=(ToolCall(id="c1", name="lookup", arguments='{"q": "日本"}'),),
            ),
        ),
        tools=(Tool(name="lookup", description="Find things", parameters={"type": "object"}),),
    )
    for kind, costs in OVERHEADS.items():
        extra = prompt_tokens_max(rich, kind=kind) - prompt_tokens_max(plain, kind=kind)
        assert extra >= costs.per_image + costs.tools_prompt + costs.per_tool + costs.per_message
        assert extra >= len('{"q": "日本"}'.encode())


def test_cost_bound_prices_prompt_tokens_at_the_dearest_input_price():
    """A cache write (3.75) costs more than a plain input token (2.50): the bound uses it."""
    bound = cost_max(prices=PRICES_MODEL, prompt_tokens=1000, output_tokens=100)
    worst = usage_cost(usage=Usage(cache_write_tokens=1000, output_tokens=100), prices=PRICES_MODEL)
    assert bound == worst.cost == Decimal("0.00475")
    assert cost_max(prices=ModelPrices(input=Decimal(1)), prompt_tokens=1, output_tokens=1) is None
    free = ModelPrices(input=Decimal(0), output=Decimal(0))
    assert cost_max(prices=free, prompt_tokens=5, output_tokens=5) == 0


# -- the output cap ----------------------------------------------------------------------
def test_output_cap_resolution_order(settings):
    settings.RUNTIME_DEFAULT_MAX_OUTPUT_TOKENS = 777
    assert output_cap(100, candidate()) == 100  # asked (client or selection)
    assert output_cap(9000, candidate()) == 4096  # never above the model's limit
    assert output_cap(None, candidate()) == 4096  # the model's limit
    assert output_cap(None, candidate(max_output_tokens=None)) == 777  # the setting


def test_client_max_tokens_above_every_models_limit_is_refused():
    selection = ResolvedSelection(
        name="svc",
        service="svc",
        candidates=(candidate(), candidate(model_string="oa:big", max_output_tokens=8192)),
    )
    client_max_tokens_check(8192, selection)  # the fallback can produce it
    with pytest.raises(InvalidInput) as caught:
        client_max_tokens_check(8193, selection)
    assert caught.value.details["param"] == "max_tokens"
    unknown = ResolvedSelection(
        name="svc", service="svc", candidates=(candidate(max_output_tokens=None),)
    )
    client_max_tokens_check(10**9, unknown)  # no declared limit: the provider judges


def sent_cap(fake) -> int | None:
    body = fake.last_request().body
    if fake.name.startswith("openai"):
        return body.get("max_completion_tokens") or body.get("max_tokens")
    if fake.name.startswith("anthropic"):
        return body["max_tokens"]
    return (body.get("generationConfig") or {}).get("maxOutputTokens")


FAKES = {
    "openai": ("openai_fake", "gpt-4o-mini"),
    "openai_compatible": ("openai_fake", "gpt-4o-mini"),
    "anthropic": ("anthropic_fake", "claude-haiku-4-5"),
    "gemini": ("gemini_fake", "gemini-2.5-flash"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("kind", sorted(FAKES))
def test_every_adapter_is_sent_the_reserved_cap(request, kind, streamed, settings):
    settings.RUNTIME_DEFAULT_MAX_OUTPUT_TOKENS = 321
    fake_name, model_name = FAKES[kind]
    fake = request.getfixturevalue(fake_name)
    provider = provider_create(fake, slug="p", kind=kind)
    limited = model_create(provider, model_name, max_output_tokens=1500)
    unlimited = model_create(provider, f"{model_name}-x", max_output_tokens=None)
    fake.models.append(f"{model_name}-x")
    message = (Message(role="user", content="hello"),)

    def call(model: str, **extra) -> None:
        chat = ChatRequest(model=model, messages=message, **extra)
        if streamed:
            stream = chat_completion_stream(request=chat)
            list(stream)
        else:
            chat_completion_run(request=chat)

    selection_set("svc", limited)
    call("svc")
    assert sent_cap(fake) == 1500  # the model's max_output_tokens
    call("svc", max_tokens=40)
    assert sent_cap(fake) == 40  # the client's
    selection_set("tuned", limited, max_tokens=600)
    call("tuned")
    assert sent_cap(fake) == 600  # the selection's
    call(unlimited.model_string)
    assert sent_cap(fake) == 321  # RUNTIME_DEFAULT_MAX_OUTPUT_TOKENS


@pytest.mark.django_db
def test_client_max_tokens_above_the_model_is_a_400_naming_it(client, openai_fake):
    from providers.models import ConsumerAPIKey

    provider = provider_create(openai_fake, slug="oa", kind="openai")
    selection_set("svc", model_create(provider, "gpt-4o-mini", max_output_tokens=4096))
    _, secret = ConsumerAPIKey.objects.create_key(name="program")
    response = client.post(
        "/v1/chat/completions",
        data={"model": "svc", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5000},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400, response.content
    assert "max_tokens" in response.content.decode()
    assert openai_fake.requests == []
    assert not UsageRecord.objects.exists()


# -- provider budgets follow the provider that served ----------------------------------------
@pytest.mark.django_db
def test_fallback_spend_lands_on_its_own_providers_budget(openai_fake):
    primary = model_create(
        provider_create(openai_fake, slug="primary", kind="openai", max_retries=0), "gpt-4o-mini"
    )
    backup = model_create(provider_create(openai_fake, slug="backup", kind="openai"), "gpt-4.1")
    selection_set("svc", primary, (backup,))
    for slug in ("primary", "backup"):
        Budget.objects.create(
            name=slug, scope_type="provider", scope_value=slug, limit_usd=Decimal("5")
        )
    Budget.objects.create(name="all", scope_type="global", limit_usd=Decimal("5"))
    openai_fake.faults.status = 503
    openai_fake.faults.times = 1
    result = chat_completion_run(
        request=ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))
    )
    assert result.served_by.provider_slug == "backup" and result.cost > 0
    spent = {p.budget.name: p.spent for p in BudgetPeriod.objects.select_related("budget")}
    assert spent == {"primary": 0, "backup": result.cost, "all": result.cost}
    assert not BudgetHold.objects.exists()
    assert BudgetPeriod.objects.filter(reserved__gt=0).count() == 0


@pytest.mark.django_db
def test_a_fallbacks_hard_provider_budget_is_checked_before_the_call(openai_fake):
    """The call may reach the backup, so an exhausted backup budget refuses it up front."""
    from usage.budgets import BudgetExceeded

    primary = model_create(
        provider_create(openai_fake, slug="primary", kind="openai"), "gpt-4o-mini"
    )
    backup = model_create(provider_create(openai_fake, slug="backup", kind="openai"), "gpt-4.1")
    selection_set("svc", primary, (backup,))
    Budget.objects.create(
        name="backup", scope_type="provider", scope_value="backup", limit_usd=Decimal("0.0001")
    )
    with pytest.raises(BudgetExceeded):
        chat_completion_run(
            request=ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))
        )
    assert openai_fake.requests == []


# -- interrupted streams -------------------------------------------------------------------
@pytest.mark.django_db
def test_cut_stream_records_the_delivered_text_as_estimated_usage(openai_fake):
    provider = provider_create(openai_fake, slug="oa", kind="openai", max_retries=0)
    selection_set("svc", model_create(provider, "gpt-4o-mini"))
    Budget.objects.create(name="all", scope_type="global", limit_usd=Decimal("5"))
    openai_fake.reply_text = "こんにちは世界 " * 30
    openai_fake.faults.cut_stream_after = 3  # role chunk + two content pieces
    stream = chat_completion_stream(
        request=ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))
    )
    with pytest.raises(StreamInterruptedError):
        list(stream)
    delivered = "".join(stream.text_parts)
    assert delivered
    record = UsageRecord.objects.get()
    assert record.usage_estimated is True
    assert record.output_tokens == len(delivered.encode())
    assert record.input_tokens > 0 and record.cost > 0
    assert record.raw_usage["estimated"] is True
    period = BudgetPeriod.objects.get()
    assert period.spent == record.cost and period.reserved == 0


@pytest.mark.django_db
def test_abandoned_stream_is_charged_too(openai_fake):
    provider = provider_create(openai_fake, slug="oa", kind="openai")
    selection_set("svc", model_create(provider, "gpt-4o-mini"))
    stream = chat_completion_stream(
        request=ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))
    )
    iterator = iter(stream)
    next(iterator)  # the first chunk reached the client, which then went away
    iterator.close()
    record = UsageRecord.objects.get()
    assert record.outcome == "cancelled" and record.usage_estimated
    assert record.cost > 0


@pytest.mark.django_db
def test_complete_stream_with_reported_usage_is_not_estimated(openai_fake):
    provider = provider_create(openai_fake, slug="oa", kind="openai")
    selection_set("svc", model_create(provider, "gpt-4o-mini"))
    stream = chat_completion_stream(
        request=ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))
    )
    list(stream)
    record = UsageRecord.objects.get()
    assert record.outcome == "ok" and record.usage_estimated is False


@pytest.mark.django_db
def test_reply_without_usage_is_recorded_at_estimated_usage_not_free(openai_fake):
    provider = provider_create(openai_fake, slug="oa", kind="openai")
    selection_set("svc", model_create(provider, "gpt-4o-mini"))
    openai_fake.usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    openai_fake.reply_text = "ünïcödé reply"
    result = chat_completion_run(
        request=ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))
    )
    record = UsageRecord.objects.get()
    assert record.usage_estimated and record.cost == result.cost > 0
    assert record.output_tokens == len("ünïcödé reply".encode())
    assert record.input_tokens == prompt_tokens_max(
        ChatRequest(model="gpt-4o-mini", messages=(Message(role="user", content="hi"),)),
        kind="openai",
    )
