"""Opening a call, and running it unstreamed: chat completions and embeddings.

`chat_call_open` / `embedding_call_open`: validate the request, check the consumer's access
and resolve the model in one resolution, look up the response cache, admit against rate
limits and budgets. `chat_complete` / `embedding_complete`: the attempt loop
(chat.runtime.attempts), the serving attempt's record, settling the reservation. Streams
open the same way and share the loop (chat.runtime.streaming).
"""

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from chat.runtime.attempts import attempt_loop
from chat.runtime.bounds import (
    client_max_tokens_check,
    embedding_tokens_max,
    output_cap,
    prompt_tokens_max,
    usage_completed,
)
from chat.runtime.call import Attempt, CallRun, Prepared
from chat.runtime.request import (
    fits_context,
    history_trim,
    prompt_tokens_estimate,
    request_for_candidate,
    request_with_overrides,
    required_capabilities,
)
from chat.runtime.response_cache import HIT, MISS, CachedAnswer
from chat.runtime.state import call_state_read
from chat.types import CallContext, ChatResult, EmbeddingResult, ModelNotAvailable
from config.errors import ApplicationError, InvalidInput
from config.generation_cache import generations_pinned
from providers.adapters.base import ProviderAdapter, validate_chat_request
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Usage,
)
from providers.consumers import ConsumerIdentity
from providers.resolution import ResolvedModel, ResolvedSelection
from providers.selectors import model_selection_resolve
from usage.models import UsageRecord
from usage.pricing import tokens_estimate

Resp = TypeVar("Resp", ChatResponse, EmbeddingResponse)


def selection_for(name: str, consumer: ConsumerIdentity | None) -> ResolvedSelection:
    """The one resolution of a call. With a `consumer` (a key calling an API), a model it may
    not use, or one that does not resolve, is ModelNotAvailable (404 without saying which,
    as OpenAI answers)."""
    if consumer is not None and not consumer.may_use(name):
        raise ModelNotAvailable.for_model(name)
    try:
        return model_selection_resolve(name=name)
    except ApplicationError as exc:
        if consumer is not None and exc.http_status in (400, 404):
            raise ModelNotAvailable.for_model(name) from None
        raise


def _run_open(
    name: str, context: CallContext | None, consumer: ConsumerIdentity | None, **kwargs: Any
) -> CallRun:
    """The call's state (read once, or as the request pinned it) and its resolution."""
    state = call_state_read()
    with generations_pinned(state.values):
        selection = selection_for(name, consumer)
    return CallRun(selection=selection, context=context, state=state, **kwargs)


def max_tokens_fitted(request: ChatRequest, selection: ResolvedSelection) -> ChatRequest:
    """max_tokens lowered to the largest output limit among the chat candidates (Anthropic
    clients ask for what Claude can write, read as "at most"); a candidate with a smaller
    limit still gets its own (chat.runtime.bounds.output_cap), and one that declares no limit
    leaves the ask as it is."""
    if request.max_tokens is None:
        return request
    limits = [c.max_output_tokens for c in selection.candidates if c.kind == "chat"]
    if not limits or not all(limits):
        return request
    largest = max(limit for limit in limits if limit)
    if request.max_tokens <= largest:
        return request
    return dataclasses.replace(request, max_tokens=largest)


def chat_call_open(
    request: ChatRequest,
    context: CallContext | None,
    *,
    consumer: ConsumerIdentity | None = None,
    streamed: bool,
    trim_history: bool,
    fit_max_tokens: bool = False,
) -> tuple[CallRun, ChatRequest]:
    """Validate, resolve and admit a chat call; the request returned carries the service's
    overrides. A request no provider would accept is refused here, before admission and any
    record. When the response cache holds the answer, `run.cached` is set and the call is
    admitted as a hit (chat.runtime.response_cache), not for a provider call."""
    validate_chat_request(request)
    run = _run_open(request.model, context, consumer, operation="chat", streamed=streamed)
    if fit_max_tokens:
        request = max_tokens_fitted(request, run.selection)
    client_max_tokens_check(request.max_tokens, run.selection)
    request = request_with_overrides(request, run.selection.overrides)
    if run.cache_lookup(request, trim_history=trim_history) is not None:
        return run, request
    run.admit(
        prompt_tokens_max=lambda kind: prompt_tokens_max(request, kind=kind),
        max_tokens=request.max_tokens,
    )
    return run, request


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


def chat_complete(run: CallRun, request: ChatRequest, *, trim_history: bool = False) -> ChatResult:
    """Run an opened chat call to its answer; the reservation is settled whatever happens."""
    if run.cached is not None:
        return _cached_result(run, run.cached)
    prepared, response, record = _served(
        run,
        chat_preparer(request, trim_history=trim_history),
        required_capabilities(request),
        _complete,
    )
    result = ChatResult(response=response, **_result_fields(run, prepared, record))
    if run.cache_status == MISS:
        run.cache_store(
            CachedAnswer(
                model_string=prepared.candidate.model_string, cost=record.cost, response=response
            )
        )
        result = dataclasses.replace(result, cache=MISS)
    return result


def _cached_result(run: CallRun, answer: CachedAnswer) -> ChatResult:
    """The answer of a cache hit, recorded in the ledger at cost 0."""
    response = answer.response
    if response is None:  # cache_lookup only finds a reply for an unstreamed call
        raise RuntimeError("An unstreamed cache hit needs a stored reply.")
    record = run.record_cache_hit(attempt=Attempt(), model_reported=response.model)
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


def _complete(adapter: ProviderAdapter, prepared: Prepared, attempt: Attempt) -> ChatResponse:
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


def embedding_call_open(
    request: EmbeddingRequest,
    context: CallContext | None,
    *,
    consumer: ConsumerIdentity | None = None,
) -> CallRun:
    """Validate, resolve and admit an embeddings call."""
    if not request.inputs or not all(isinstance(text, str) and text for text in request.inputs):
        raise InvalidInput("Embeddings need one or more non-empty strings.")
    run = _run_open(request.model, context, consumer, operation="embedding")
    run.admit(
        prompt_tokens_max=lambda kind: embedding_tokens_max(request.inputs, kind=kind),
        max_tokens=None,
    )
    return run


def embedding_complete(run: CallRun, request: EmbeddingRequest) -> EmbeddingResult:
    """Run an opened embeddings call, with the same retries, failover and ledger as chat."""
    estimate = sum(tokens_estimate(chars=len(text)) for text in request.inputs)

    def prepare(candidate: ResolvedModel) -> tuple[EmbeddingRequest, int]:
        return (
            EmbeddingRequest(
                model=candidate.model_name, inputs=request.inputs, dimensions=request.dimensions
            ),
            estimate,
        )

    prepared, response, record = _served(
        run,
        prepare,
        frozenset(),
        lambda adapter, prepared, _: _embed(adapter, prepared.request, estimate),
    )
    return EmbeddingResult(response=response, **_result_fields(run, prepared, record))


def _served(
    run: CallRun,
    prepare: Callable[[ResolvedModel], tuple[Any, int] | str],
    needs: frozenset[str],
    call: Callable[[ProviderAdapter, Prepared, Attempt], Resp],
) -> tuple[Prepared, Resp, UsageRecord]:
    """The attempt loop to its answer, and the serving attempt's ledger row; the reservation
    is settled whatever happens."""
    try:
        prepared, attempt, response = attempt_loop(run, prepare, needs, call)
        run.breaker.record_success(prepared.candidate.provider_slug)
        record = run.record(
            prepared=prepared,
            attempt=attempt,
            usage=response.usage,
            provider_request_id=response.request_id,
            model_reported=response.model,
        )
    finally:
        run.settle()
    return prepared, response, record


def _result_fields(run: CallRun, prepared: Prepared, record: UsageRecord) -> dict[str, Any]:
    """What a chat or embeddings result says about the call beside the answer."""
    return {
        "request_id": run.request_id,
        "served_by": prepared.candidate,
        "is_fallback": prepared.is_fallback,
        "attempts": run.attempts,
        "cost": record.cost,
        "usage_record_id": record.pk,
        "latency_ms": record.latency_ms,
    }
