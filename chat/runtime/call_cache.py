"""The response cache's steps of a call (chat.runtime.response_cache): look up and admit a
hit, store a complete answer, write a hit's ledger row. Mixed into CallRun, whose state
(selection, context, attempts, cache_key, cached, cache_status) they read and set."""

from typing import TYPE_CHECKING, Any

from chat.runtime.response_cache import (
    HIT,
    MISS,
    CachedAnswer,
    response_cache_get,
    response_cache_key,
    response_cache_put,
)
from chat.types import CallContext
from config.generation_cache import generations_pinned
from providers.resolution import ResolvedModel, ResolvedSelection
from usage.models import UsageRecord
from usage.ratelimits import rate_limit_admit
from usage.services.ledger import usage_record_create
from usage.types import CallScope

if TYPE_CHECKING:
    from chat.runtime.call import Attempt
    from chat.runtime.state import CallState


class ResponseCacheSteps:
    selection: ResolvedSelection
    context: CallContext
    state: "CallState"
    request_id: str
    operation: str
    streamed: bool
    attempts: int
    ledger_write_behind: bool
    cache_key: str | None
    cached: CachedAnswer | None
    cache_status: str

    def _scope(self) -> CallScope:
        raise NotImplementedError

    def cache_lookup(self, request: Any, *, trim_history: bool) -> CachedAnswer | None:
        """The cached answer to this request, if the service caches and one is stored; a
        hit is admitted here (one request, no tokens, no budget hold)."""
        self.cache_key = response_cache_key(
            selection=self.selection,
            request=request,
            context=self.context,
            streamed=self.streamed,
            trim_history=trim_history,
        )
        if self.cache_key is None:
            return None
        self.cache_status = MISS
        if self.context.cache_bypass:
            return None
        answer = response_cache_get(self.cache_key)
        if answer is None or self.cache_candidate(answer) is None:
            return None
        if not (answer.events if self.streamed else answer.response):
            return None
        with generations_pinned(self.state.values):
            rate_limit_admit(scope=self._scope(), estimated_tokens=0)
        self.cached, self.cache_status = answer, HIT
        return answer

    def cache_candidate(self, answer: CachedAnswer) -> ResolvedModel | None:
        """The model that served the cached answer, as this selection resolves it now."""
        return next(
            (c for c in self.selection.candidates if c.model_string == answer.model_string),
            None,
        )

    def cache_store(self, answer: CachedAnswer) -> None:
        """Keep a complete answer of this call (the caller checked it is one)."""
        if self.cache_key is not None and self.cache_status == MISS:
            response_cache_put(self.cache_key, answer, ttl=self.selection.cache_ttl)

    def record_cache_hit(
        self, *, attempt: "Attempt", outcome: str = "ok", model_reported: str = ""
    ) -> UsageRecord:
        """The ledger row of an answer replayed from the cache: cost 0, the cost it saved."""
        answer = self.cached
        candidate = self.cache_candidate(answer) if answer is not None else None
        if answer is None or candidate is None:
            raise RuntimeError("record_cache_hit needs a cache hit (cache_lookup found none).")
        self.attempts += 1
        return usage_record_create(
            request_id=self.request_id,
            model=candidate,
            outcome=outcome,
            attempt=self.attempts,
            streamed=self.streamed,
            operation=self.operation,
            latency_ms=attempt.elapsed_ms(),
            time_to_first_token_ms=attempt.first_token_ms,
            service=self.selection.service,
            user_id=self.context.user_id,
            api_key_id=self.context.api_key_id,
            conversation_id=self.context.conversation_id,
            end_user=self.context.end_user,
            tags=self.context.tags,
            model_reported=model_reported,
            created_at=attempt.created_at,
            cache_hit=True,
            saved_cost=answer.cost,
            write_behind=self.ledger_write_behind,
        )
