"""The run loops of unstreamed calls: chat completions and embeddings.

resolve -> admit -> for each candidate that fits: call, retry retryable errors with backoff,
then fail over -> record every attempt -> settle. Streams share the same pieces in
chat.runtime.streaming.
"""

import dataclasses
import time
from collections.abc import Callable
from typing import Any, TypeVar

from chat.runtime.bounds import (
    client_max_tokens_check,
    embedding_tokens_max,
    output_cap,
    prompt_tokens_max,
    usage_completed,
)
from chat.runtime.call import (
    AttemptClock,
    CallRun,
    CallState,
    Prepared,
    call_state_pinned,
    call_state_read,
)
from chat.runtime.request import (
    fits_context,
    history_trim,
    prompt_tokens_estimate,
    request_for_candidate,
    request_with_overrides,
    required_capabilities,
)
from chat.runtime.response_cache import HIT, MISS, CachedAnswer
from chat.runtime.types import CallContext, ChatResult, EmbeddingResult
from config.errors import InvalidInput
from providers.adapters.base import ProviderAdapter, validate_chat_request
from providers.adapters.errors import ProviderError
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Usage,
)
from providers.resolution import ResolvedModel, ResolvedSelection
from providers.selectors import model_selection_resolve, provider_adapter_get
from usage.models import UsageRecord
from usage.pricing import tokens_estimate

Resp = TypeVar("Resp", ChatResponse, EmbeddingResponse)
Result = TypeVar("Result", ChatResult, EmbeddingResult)


def selection_resolve(name: str) -> tuple[ResolvedSelection, CallState | None]:
    """The cached resolution of a service name or model string (NotFound / InvalidInput),
    and the call's cache state, read in one round trip before it."""
    state = call_state_read()
    with call_state_pinned(state):
        return model_selection_resolve(name=name), state


def chat_preparer(
    request: ChatRequest, *, trim_history: bool
) -> Callable[[ResolvedModel], tuple[ChatRequest, int] | str]:
    """For each candidate: its request (history trimmed to its window if asked) or why not."""

    def prepare(candidate: ResolvedModel) -> tuple[ChatRequest, int] | str:
        candidate_request = request_for_candidate(request, candidate)
        if trim_history:
            # Leave room for the reply: the asked max_tokens, else up to a quarter of the window.
            reserve = candidate_request.max_tokens or min(
                candidate.max_output_tokens or 0, (candidate.context_window or 0) // 4
            )
            messages = history_trim(
                candidate_request.messages,
                context_window=candidate.context_window,
                max_tokens=reserve,
            )
            candidate_request = dataclasses.replace(candidate_request, messages=messages)
        prompt_tokens = prompt_tokens_estimate(candidate_request)
        if not fits_context(
            prompt_tokens=prompt_tokens,
            max_tokens=candidate_request.max_tokens,
            context_window=candidate.context_window,
        ):
            return "context_window"
        # Always send the cap the reservation assumed, so no provider can go past it; an
        # implied cap (no max_tokens asked) is shrunk to what the context window leaves.
        cap = output_cap(candidate_request.max_tokens, candidate)
        if candidate_request.max_tokens is None and candidate.context_window:
            cap = max(1, min(cap, candidate.context_window - prompt_tokens))
        return dataclasses.replace(candidate_request, max_tokens=cap), prompt_tokens

    return prepare


def chat_run_start(
    request: ChatRequest, context: CallContext | None, *, streamed: bool, trim_history: bool
) -> tuple[CallRun, ChatRequest]:
    """Resolve and admit a chat call; the request returned carries the service's overrides.
    A request no provider would accept is refused here, before admission and any record.
    When the response cache holds the answer, `run.cached` is set and the call is admitted
    as a hit (chat.runtime.response_cache), not for a provider call."""
    validate_chat_request(request)
    selection, state = selection_resolve(request.model)
    run = CallRun(
        selection=selection, context=context, operation="chat", streamed=streamed, state=state
    )
    client_max_tokens_check(request.max_tokens, selection)
    request = request_with_overrides(request, selection.overrides)
    if run.cache_lookup(request, trim_history=trim_history) is not None:
        return run, request
    run.admit(
        prompt_tokens_max=lambda kind: prompt_tokens_max(request, kind=kind),
        max_tokens=request.max_tokens,
    )
    return run, request


def attempts_with_retries(
    run: CallRun, prepared: Prepared, call: Callable[[], Resp]
) -> tuple[Resp, UsageRecord] | None:
    """Call one candidate, retrying retryable errors: the response and its usage record, or
    None when it is time to fail over."""
    retries = 0
    while True:
        clock = run.attempt_begin(prepared)
        try:
            response = call()
        except ProviderError as error:
            run.record(prepared=prepared, clock=clock, error=error)
            delay = run.retry_delay(error=error, candidate=prepared.candidate, retries=retries)
            if delay is None or not run.may_attempt_again(prepared.candidate):
                return None
            time.sleep(delay)
            retries += 1
            continue
        except Exception as error:
            run.record(prepared=prepared, clock=clock, error=error)
            raise
        run.breaker.record_success(prepared.candidate.provider_slug)
        record = run.record(
            prepared=prepared,
            clock=clock,
            usage=response.usage,
            provider_request_id=response.request_id,
            model_reported=response.model,
        )
        return response, record


def chat_complete(
    request: ChatRequest, *, context: CallContext | None = None, trim_history: bool = False
) -> ChatResult:
    run, request = chat_run_start(request, context, streamed=False, trim_history=trim_history)
    if run.cached is not None:
        return _cached_result(run, run.cached)
    prepare = chat_preparer(request, trim_history=trim_history)
    result = _first_success(
        run,
        prepare,
        required_capabilities(request),
        lambda adapter, prepared: _complete(adapter, prepared),
        ChatResult,
    )
    if run.cache_status == MISS:
        run.cache_store(
            CachedAnswer(
                model_string=result.served_by.model_string,
                cost=result.cost,
                response=result.response,
            )
        )
        result = dataclasses.replace(result, cache=MISS)
    return result


def _cached_result(run: CallRun, answer: CachedAnswer) -> ChatResult:
    """The answer of a cache hit, recorded in the ledger at cost 0."""
    clock = AttemptClock()
    response = answer.response
    if response is None:  # cache_lookup only finds a reply for an unstreamed call
        raise RuntimeError("An unstreamed cache hit needs a stored reply.")
    record = run.record_cache_hit(clock=clock, model_reported=response.model)
    served = run.cache_candidate(answer)
    if served is None:  # cache_lookup only finds an answer whose model still serves
        raise RuntimeError("A cache hit needs its serving model.")
    return ChatResult(
        request_id=run.request_id,
        response=response,
        served_by=served,
        is_fallback=False,
        attempts=run.attempts,
        cost=record.cost,
        usage_record_id=record.pk,
        latency_ms=record.latency_ms,
        cache=HIT,
    )


def _complete(adapter: ProviderAdapter, prepared: Prepared) -> ChatResponse:
    """Complete; a reply that comes without usage (some compatible servers send none) is
    recorded at estimated usage, flagged so, never as a free call."""
    response = adapter.complete(prepared.request)
    text = response.text + "".join(c.name + c.arguments for c in response.tool_calls)
    usage = usage_completed(
        response.usage,
        request=prepared.request,
        kind=prepared.candidate.provider_kind,
        delivered=text,
        interrupted=False,
    )
    if usage is response.usage:
        return response
    return dataclasses.replace(response, usage=usage or response.usage)


def _embed(adapter: ProviderAdapter, request: EmbeddingRequest, estimate: int) -> EmbeddingResponse:
    """Embed; when the provider reports no usage (Gemini's batch embedding API does not), the
    input tokens are estimated and marked so, rather than recorded as a free call."""
    response = adapter.embed(request)
    if response.usage.total_tokens:
        return response
    usage = Usage(
        input_tokens=estimate,
        raw={**response.usage.raw, "estimated": True, "estimate_method": "chars/4"},
    )
    return dataclasses.replace(response, usage=usage)


def embedding_complete(
    request: EmbeddingRequest, *, context: CallContext | None = None
) -> EmbeddingResult:
    if not request.inputs or not all(isinstance(text, str) and text for text in request.inputs):
        raise InvalidInput("Embeddings need one or more non-empty strings.")
    selection, state = selection_resolve(request.model)
    run = CallRun(selection=selection, context=context, operation="embedding", state=state)
    prompt_tokens = sum(tokens_estimate(chars=len(text)) for text in request.inputs)
    run.admit(
        prompt_tokens_max=lambda kind: embedding_tokens_max(request.inputs, kind=kind),
        max_tokens=None,
    )

    def prepare(candidate: ResolvedModel) -> tuple[EmbeddingRequest, int]:
        return (
            EmbeddingRequest(
                model=candidate.model_name, inputs=request.inputs, dimensions=request.dimensions
            ),
            prompt_tokens,
        )

    return _first_success(
        run,
        prepare,
        frozenset(),
        lambda adapter, prepared: _embed(adapter, prepared.request, prompt_tokens),
        EmbeddingResult,
    )


def _first_success(
    run: CallRun,
    prepare: Callable[[ResolvedModel], tuple[Any, int] | str],
    needs: frozenset[str],
    call: Callable[[ProviderAdapter, Prepared], Resp],
    result_type: type[Result],
) -> Result:
    """Try the candidates in order (each with its retries) and answer with the first success;
    the budget reservation is settled whatever happens."""
    try:
        for prepared in run.candidates(prepare, needs):
            adapter = provider_adapter_get(
                slug=prepared.candidate.provider_slug, version=prepared.candidate.provider_version
            )
            outcome = attempts_with_retries(run, prepared, lambda p=prepared, a=adapter: call(a, p))
            if outcome is not None:
                response, record = outcome
                return result_type(
                    request_id=run.request_id,
                    response=response,
                    served_by=prepared.candidate,
                    is_fallback=prepared.is_fallback,
                    attempts=run.attempts,
                    cost=record.cost,
                    usage_record_id=record.pk,
                    latency_ms=record.latency_ms,
                )
            if run.out_of_time():
                break
        raise run.no_candidate_error()
    finally:
        run.settle()
