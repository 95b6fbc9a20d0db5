"""The state of one call across its attempts: admission, candidates, the ledger.

`CallRun` admits the call (reserving the most it could cost), says which candidate may be
tried next (kind, capabilities, context window, circuit breaker, a model group's routing,
and what earlier failures ruled out), writes one UsageRecord per attempt and settles. It
knows nothing of HTTP; the attempt loop (chat.runtime.attempts) drives it.
"""

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

from django.utils import timezone

from chat.runtime.admission import Admission, admission_close, admission_open
from chat.runtime.bounds import cost_max, output_cap
from chat.runtime.breaker import CircuitBreaker
from chat.runtime.call_cache import ResponseCacheSteps
from chat.runtime.response_cache import CachedAnswer
from chat.runtime.retry import Deadline, RetryPolicy
from chat.runtime.routing import Claim, RouteInfo, Router
from chat.runtime.state import CallState
from chat.types import CallContext, new_request_id
from config.generation_cache import generations_pinned
from providers.adapters.errors import (
    ProviderError,
    ProviderTimeoutError,
)
from providers.adapters.types import Usage
from providers.resolution import ResolvedGroup, ResolvedModel, ResolvedSelection
from usage.models import UsageRecord
from usage.services.ledger import usage_record_create
from usage.types import CallScope

logger = logging.getLogger(__name__)

R = TypeVar("R")

INTERNAL_ERROR = "internal_error"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Prepared(Generic[R]):
    """A candidate that can serve, with the request exactly as it will receive it."""

    candidate: ResolvedModel
    request: R
    is_fallback: bool
    prompt_tokens: int


class Attempt:
    """One attempt: its wall time, the moment its first token arrived (streams), and the
    usage the provider reported before an error (streams), for its record."""

    __slots__ = ("created_at", "first_token_ms", "started", "usage")

    def __init__(self) -> None:
        self.created_at: datetime = timezone.now()
        self.started = time.perf_counter()
        self.first_token_ms: int | None = None
        self.usage: Usage | None = None

    def first_token(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = self.elapsed_ms()

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


class CallRun(ResponseCacheSteps):
    def __init__(
        self,
        *,
        selection: ResolvedSelection,
        context: CallContext | None,
        operation: str,
        streamed: bool = False,
        state: CallState,
    ) -> None:
        self.selection = selection
        self.state = state
        self.context = context or CallContext()
        self.request_id = self.context.request_id or new_request_id()
        self.operation = operation
        self.streamed = streamed
        self.policy = RetryPolicy.from_settings()
        self.deadline = Deadline(self.policy.total_seconds)
        self.breaker = CircuitBreaker()
        self.breaker.prefetched(state.breaker_slugs, state.values)
        self.attempts = 0
        # Rows written after the answer: the caller names none, nor does a request log.
        self.ledger_write_behind = (
            self.context.ledger_write_behind and not selection.request_log_days
        )
        # What the ledger holds for this call: the sum of its attempts' costs, an unpriced
        # attempt counting 0 (its record has no cost either), in total and per provider.
        self.spent = Decimal(0)
        self.spent_by_provider: dict[str, Decimal] = {}
        self.tokens = 0
        self.admission: Admission | None = None
        self.last_error: ProviderError | None = None
        self.skipped: dict[str, list[str]] = {}
        self.excluded_models: set[str] = set()
        self.min_context: int | None = None
        # Model groups: a router per group of the chain (by group name), why each member
        # stands where it does, and the member attempt in flight with the router that counted
        # it (released when the attempt is recorded).
        self.routers: dict[str, Router] = {}
        self.routes: dict[int, RouteInfo] = {}
        self._claim: tuple[Router, Claim] | None = None
        # The response cache: this call's key (None: the service caches nothing), what a hit
        # replays, and "hit"/"miss" for the x-cache header.
        self.cache_key: str | None = None
        self.cached: CachedAnswer | None = None
        self.cache_status = ""

    # -- admission --------------------------------------------------------------------------
    def admit(self, *, prompt_tokens_max: Callable[[str], int], max_tokens: int | None) -> None:
        """Reserve before any spend: the most the dearest usable candidate could cost.

        `prompt_tokens_max(kind)` is the upper bound of the prompt at a provider of that kind;
        the output is the cap each candidate will be sent (chat) or none (embeddings). Each
        provider the call may reach is held the most its own candidates could cost, so a
        provider-scoped budget is charged by the provider that serves, fallbacks included."""
        total = Decimal(0)
        tokens = 0
        by_provider: dict[str, Decimal] = {}
        for candidate in self.selection.candidates:
            if candidate.kind != self.operation:
                continue
            output = output_cap(max_tokens, candidate) if self.operation == "chat" else 0
            prompt = prompt_tokens_max(candidate.provider_kind)
            tokens = max(tokens, prompt + output)
            estimate = cost_max(prices=candidate.prices, prompt_tokens=prompt, output_tokens=output)
            estimate = estimate or Decimal(0)
            total = max(total, estimate)
            slug = candidate.provider_slug
            by_provider[slug] = max(by_provider.get(slug, Decimal(0)), estimate)
        with generations_pinned(self.state.values):
            self.admission = admission_open(
                scope=self._scope(),
                estimated_tokens=tokens,
                estimated_cost=total,
                provider_costs=by_provider,
                # The request id links the reservation to the call's usage records, so the
                # release task can settle it from the ledger (a hold's id is 36 characters).
                reservation_id=self.request_id if len(self.request_id) <= 36 else None,
            )

    def _scope(self) -> CallScope:
        primary = self.selection.candidates[0] if self.selection.candidates else None
        return CallScope(
            service=self.selection.service,
            provider_slug=primary.provider_slug if primary else None,
            api_key_id=self.context.api_key_id,
            user_id=self.context.user_id,
            tags=self.context.tags,
        )

    def settle(self) -> None:
        """Turn the reservation into what the ledger holds for this call (each provider's
        budgets get the cost of that provider's attempts)."""
        if self.admission is not None:
            with generations_pinned(self.state.values):
                admission_close(
                    admission=self.admission,
                    actual_tokens=self.tokens,
                    actual_cost=self.spent,
                    provider_costs=dict(self.spent_by_provider),
                )

    # -- candidates -------------------------------------------------------------------------
    def candidates(
        self,
        prepare: Callable[[ResolvedModel], tuple[R, int] | str],
        needs: frozenset[str] = frozenset(),
    ) -> Iterator[Prepared[R]]:
        """The candidates that can serve, in order. `prepare` returns (request, prompt tokens)
        for a candidate, or the reason it cannot take the request."""
        for index, candidate in enumerate(self._routed()):
            reason = self._skip_reason(candidate, needs)
            if reason is None:
                prepared = prepare(candidate)
                if isinstance(prepared, str):
                    reason = prepared
                else:
                    request, prompt_tokens = prepared
                    if not self.breaker.allow(candidate.provider_slug):
                        reason = "circuit_open"
                    else:
                        yield Prepared(candidate, request, index > 0, prompt_tokens)
                        continue
            self.skipped.setdefault(reason, []).append(candidate.model_string)

    def _routed(self) -> Iterator[ResolvedModel]:
        """The candidates in the order to try them: each group of the chain (the primary
        group, then any fallback group at its position) contributes its members as its own
        strategy ranks them (chat.runtime.routing), routed when the call reaches it, so a
        fallback group costs nothing while an earlier candidate serves."""
        groups = {
            member.model.model_id: group
            for group in self.selection.groups
            for member in group.members
        }
        routed: set[str] = set()
        for candidate in self.selection.candidates:
            group = groups.get(candidate.model_id)
            if group is None:
                yield candidate
            elif group.name not in routed:
                routed.add(group.name)
                yield from self._route(group)

    def _route(self, group: ResolvedGroup) -> list[ResolvedModel]:
        """The group's members in the order its router ranks them for this call."""
        router = self.routers[group.name] = Router(group)
        router.read()
        opened = {
            m.model.provider_slug
            for m in group.members
            if self.breaker.known_open(m.model.provider_slug)
        }
        tokens = self.admission.estimated_tokens if self.admission is not None else 0
        ordered = router.order(tokens=tokens, circuit_open=opened)
        self.routes.update({member.model.model_id: info for member, info in ordered})
        return [member.model for member, _ in ordered]

    def attempt_begin(self, prepared: Prepared) -> Attempt:
        """Start timing an attempt; a group member's attempt is counted in flight and
        against its per-minute quota (by its group's router) until it is recorded."""
        candidate = prepared.candidate
        route = self.routes.get(candidate.model_id)
        router = self.routers.get(route.group) if route is not None else None
        member = router.group.member_of(candidate.model_id) if router is not None else None
        if router is not None and member is not None:
            max_tokens = getattr(prepared.request, "max_tokens", None) or 0
            claim = router.claim(
                member,
                attempt_id=f"{self.request_id}:{self.attempts + 1}",
                tokens=prepared.prompt_tokens + max_tokens,
            )
            self._claim = (router, claim)
        return Attempt()

    def _release(self, attempt: Attempt, usage: Usage | None, ok: bool, elapsed: int) -> None:
        held, self._claim = self._claim, None
        if held is None:
            return
        router, claim = held
        latency = (attempt.first_token_ms or elapsed) if ok else None
        router.release(
            claim,
            latency_ms=latency,
            actual_tokens=usage.total_tokens if usage is not None else 0,
        )

    def _skip_reason(self, candidate: ResolvedModel, needs: frozenset[str]) -> str | None:
        if candidate.kind != self.operation:
            return "kind"
        if needs - candidate.capabilities:
            return "capability"
        if candidate.model_string in self.excluded_models:
            return "upstream_model_not_found"
        if self.min_context is not None and (candidate.context_window or 0) <= self.min_context:
            return "context_window"
        return None

    def out_of_time(self) -> bool:
        return self.deadline.remaining() <= 0

    def deadline_error(self, candidate: ResolvedModel) -> ProviderTimeoutError:
        """The error a call ends with when RUNTIME_TOTAL_TIMEOUT_SECONDS runs out mid-stream."""
        error = ProviderTimeoutError(
            "The call's total time limit was reached before the provider finished.",
            provider=candidate.provider_slug,
        )
        self.last_error = error
        return error

    # -- the ledger -------------------------------------------------------------------------
    def record(
        self,
        *,
        prepared: Prepared,
        attempt: Attempt,
        usage: Usage | None = None,
        error: BaseException | None = None,
        outcome: str | None = None,
        provider_request_id: str | None = None,
        model_reported: str = "",
    ) -> UsageRecord:
        """Write this attempt's UsageRecord and add its tokens and cost to the call's totals."""
        self.attempts += 1
        if outcome is None:
            outcome = "ok" if error is None else getattr(error, "code", INTERNAL_ERROR)
        message = ""
        if isinstance(error, ProviderError):
            message = error.message
            provider_request_id = provider_request_id or error.request_id
            # The consumer's error answer names the call, on /api as on /v1.
            error.call_request_id = error.call_request_id or self.request_id
        elif error is not None:
            message = type(error).__name__
        elapsed = attempt.elapsed_ms()
        self._release(attempt, usage, outcome == "ok", elapsed)
        route = self.routes.get(prepared.candidate.model_id)
        record = usage_record_create(
            request_id=self.request_id,
            model=prepared.candidate,
            usage=usage,
            usage_estimated=bool(usage is not None and usage.raw.get("estimated")),
            outcome=outcome,
            error_message=message,
            attempt=self.attempts,
            is_fallback=prepared.is_fallback,
            streamed=self.streamed,
            operation=self.operation,
            latency_ms=elapsed,
            time_to_first_token_ms=attempt.first_token_ms,
            service=self.selection.service,
            user_id=self.context.user_id,
            api_key_id=self.context.api_key_id,
            conversation_id=self.context.conversation_id,
            end_user=self.context.end_user,
            tags=self.context.tags,
            provider_request_id=provider_request_id,
            model_reported=model_reported,
            created_at=attempt.created_at,
            route=route.as_record(prepared.candidate.model_string) if route else None,
            write_behind=self.ledger_write_behind,
        )
        if usage is not None:
            self.tokens += usage.total_tokens
        if record.cost:
            self.spent += record.cost
            slug = prepared.candidate.provider_slug
            self.spent_by_provider[slug] = (
                self.spent_by_provider.get(slug, Decimal(0)) + record.cost
            )
        return record
