"""Spend under concurrency, end to end: 40 threads call a tight hard budget at once, through
the real OpenAI SDK against a hostile fake (one token per prompt character, and as much output
as it is allowed), with their own PostgreSQL connections. Requests set no max_tokens and mix
English, CJK, emoji and code, the cases where admission used to undercount. The budget ends
within the README's bound (zero overspend for text prompts) and agrees with the ledger."""

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django.db import connection

from chat.services import chat_completion_run, chat_completion_stream
from providers.adapters.errors import ProviderError
from providers.adapters.types import ChatRequest, Message
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.fakes.base import FakeResponse
from tests.fixtures import requires_postgres
from usage.budgets import BudgetExceeded
from usage.models import Budget, BudgetHold, BudgetPeriod, UsageRecord
from usage.services.reconcile import budget_reconcile

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

T = TypeVar("T")
CALLS = 40
LIMIT = Decimal("0.30")
SCRIPTS = (
    "Explain the report. " * 40,
    "请总结季度报告并列出三个最大的风险。" * 60,
    "🚀🔥✨🎉👍🏽" * 80,
    "def f(x):\n    return [x ** 2 for x in range(10)]  # λ\n" * 20,
)
REPLY_CHARACTERS = 50_000  # what the upstream would produce if it were not capped


def run_in_parallel(count: int, work: Callable[[int], T]) -> list[T]:
    barrier = threading.Barrier(count)

    def call(i: int) -> T:
        try:
            barrier.wait(timeout=60)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def hostile(fake: Any, monkeypatch: pytest.MonkeyPatch, caps_seen: list) -> None:
    """Count one token per prompt character, and output REPLY_CHARACTERS tokens unless a cap
    was sent (then exactly the cap): the worst a provider honouring max_tokens can bill."""
    route = fake.route

    def counted(request: Any) -> FakeResponse:
        answer = route(request)
        if request.path.endswith("/chat/completions") and isinstance(answer.body, dict):
            body = request.body
            cap = body.get("max_completion_tokens") or body.get("max_tokens")
            caps_seen.append(cap)
            prompt = sum(len(_text(m.get("content"))) for m in body["messages"])
            output = min(cap, REPLY_CHARACTERS) if cap else REPLY_CHARACTERS
            answer.body["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": output,
                "total_tokens": prompt + output,
            }
        return answer

    monkeypatch.setattr(fake, "route", counted)


@pytest.fixture
def tight_budget(openai_fake):
    provider = provider_create(openai_fake, slug="oa", kind="openai", timeout=30.0)
    selection_set("svc", model_create(provider, "gpt-4o-mini", max_output_tokens=4096))
    return Budget.objects.create(name="tight", scope_type="global", limit_usd=LIMIT, hard=True)


def test_uncapped_concurrent_calls_stay_within_a_tight_hard_budget(
    tight_budget, openai_fake, monkeypatch
):
    caps_seen: list = []
    hostile(openai_fake, monkeypatch, caps_seen)

    def call(i: int) -> Decimal | None:
        request = ChatRequest(
            model="svc", messages=(Message(role="user", content=SCRIPTS[i % len(SCRIPTS)]),)
        )
        try:
            return chat_completion_run(request=request).cost
        except BudgetExceeded:
            return None

    results = run_in_parallel(CALLS, call)
    served = [cost for cost in results if cost is not None]
    refused = CALLS - len(served)
    assert served and refused, (len(served), refused)  # the budget really was tight
    assert caps_seen and all(cap == 4096 for cap in caps_seen)  # always capped
    period = BudgetPeriod.objects.get(budget=tight_budget)
    assert period.spent <= LIMIT  # the stated bound: no overspend
    assert period.reserved == 0 and not BudgetHold.objects.exists()
    assert period.spent == sum(served)
    assert period.spent == sum(r.cost for r in UsageRecord.objects.all())
    assert budget_reconcile() == []


def test_concurrent_streams_cut_midway_stay_within_the_budget(tight_budget, openai_fake):
    """Streams the upstream drops after their first chunks are charged what they delivered
    (estimated) and still cannot push the budget past its limit."""
    openai_fake.reply_text = "字" * 3000
    openai_fake.faults.cut_stream_after = 3

    def call(i: int) -> bool:
        request = ChatRequest(
            model="svc", messages=(Message(role="user", content=SCRIPTS[i % len(SCRIPTS)]),)
        )
        try:
            stream = chat_completion_stream(request=request)
        except BudgetExceeded:
            return False
        with contextlib.suppress(ProviderError):  # the cut, after the first chunks
            list(stream)
        return True

    results = run_in_parallel(CALLS // 2 + 10, call)
    assert any(results)
    period = BudgetPeriod.objects.get(budget=tight_budget)
    records = list(UsageRecord.objects.all())
    assert records and all(r.usage_estimated and r.cost > 0 for r in records)
    assert period.spent <= LIMIT and period.reserved == 0
    assert period.spent == sum(r.cost for r in records)
