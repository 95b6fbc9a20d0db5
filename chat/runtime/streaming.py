"""Streamed chat calls: fail over only until the first chunk, then stream or end with an error.

`chat_stream_open` tries candidates (with retries) until one produces its first content event;
errors before that point fail over exactly like an unstreamed call. The returned ChatStream
then yields that candidate's events. A provider error after the first chunk is not retried
or failed over (the client has already seen output): the attempt is recorded with the error
outcome and the usage seen so far, and the error is raised to the consumer of the stream.
A stream abandoned by its consumer is recorded as `cancelled`.

The call's total deadline (RUNTIME_TOTAL_TIMEOUT_SECONDS) holds during the stream: an upstream
that trickles is cut at the first event received after it, with a `provider_timeout` error
(so at most one upstream read past the deadline, bounded by the provider's read timeout).

An attempt that ends without the provider's usage (cut, cancelled, timed out, or a server that
reports none) is never recorded at $0: the prompt is counted at its upper bound and the output
as the UTF-8 bytes of the text and tool calls already delivered (at most the cap sent), and
the record is flagged `usage_estimated`.
"""

from collections.abc import Iterator
from decimal import Decimal
from functools import partial

from chat.runtime.attempts import attempt_loop
from chat.runtime.bounds import usage_completed
from chat.runtime.call import CANCELLED, Attempt, CallRun, Prepared
from chat.runtime.loop import chat_preparer
from chat.runtime.request import required_capabilities
from chat.runtime.response_cache import MISS, CachedAnswer
from config.outages import unavailable, unavailable_errors
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import ProviderError, StreamInterruptedError
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    Finish,
    FinishReason,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from providers.resolution import ResolvedModel

_CONTENT = (TextDelta, ToolCallDelta, Finish)


class ChatStream:
    """The events of a streamed call whose serving model is already known.

    Iterate it once. After it is exhausted, `response()` is the assembled reply and `cost`,
    `usage_record_id` and `usage` describe the attempt that served.
    """

    def __init__(
        self,
        *,
        run: CallRun,
        prepared: Prepared,
        events: Iterator[StreamEvent],
        buffered: list[StreamEvent],
        clock: Attempt,
        usage: Usage | None,
    ) -> None:
        self.run = run
        self.prepared = prepared
        self._events = events
        self._buffered = buffered
        self._clock = clock
        self.usage: Usage | None = usage
        self.finish_reason: FinishReason | None = None
        self.model_reported = ""
        self.provider_request_id: str | None = None
        self.text_parts: list[str] = []
        self._tool_calls: dict[int, dict[str, str]] = {}
        self.cost: Decimal | None = None
        self.usage_record_id: int | None = None
        self.error: BaseException | None = None
        self._started = False
        self._done = False
        self._timed_out = False
        # Every event, kept to store a complete stream in the response cache.
        self._kept: list[StreamEvent] | None = [] if run.cache_status == MISS else None

    @property
    def request_id(self) -> str:
        return self.run.request_id

    @property
    def served_by(self) -> ResolvedModel:
        return self.prepared.candidate

    @property
    def is_fallback(self) -> bool:
        return self.prepared.is_fallback

    @property
    def latency_ms(self) -> int:
        return self._clock.elapsed_ms()

    @property
    def time_to_first_token_ms(self) -> int | None:
        return self._clock.first_token_ms

    def __iter__(self) -> Iterator[StreamEvent]:
        if self._started:
            raise RuntimeError("A ChatStream can be iterated only once.")
        self._started = True
        try:
            yield from self._observed()
        except unavailable_errors() as error:  # the ledger's database, mid-stream
            raise unavailable(error) from error

    def _observed(self) -> Iterator[StreamEvent]:
        try:
            for event in self._buffered:
                self._observe(event)
                yield event
            self._buffered = []
            for event in self._events:
                if self.run.out_of_time():
                    self._timed_out = True
                    self._events_close()
                    raise self.run.deadline_error(self.served_by)
                self._observe(event)
                yield event
            if self.finish_reason is None:
                # A stream that stops without its end marker was cut, not completed.
                raise StreamInterruptedError(provider=self.served_by.provider_slug)
        except ProviderError as error:
            self.error = error
            if error.retryable and not self._timed_out:
                self.run.breaker.record_failure(self.served_by.provider_slug)
            self._finish(error=error)
            raise
        except GeneratorExit:
            self._finish(outcome=CANCELLED)
            raise
        except Exception as error:
            self.error = error
            self._finish(error=error)
            raise
        self.run.breaker.record_success(self.served_by.provider_slug)
        self._finish()
        if self._kept is not None and self.error is None:
            self.run.cache_store(
                CachedAnswer(
                    model_string=self.served_by.model_string,
                    cost=self.cost,
                    events=tuple(self._kept),
                )
            )

    @property
    def cache(self) -> str:
        """The response cache: "hit", "miss", or "" when the service caches nothing."""
        return self.run.cache_status

    def close(self) -> None:
        """Record and settle a stream its consumer stopped reading (or never started)."""
        if not self._done:
            self._events_close()
            try:
                self._finish(outcome=CANCELLED)
            except unavailable_errors() as error:
                raise unavailable(error) from error

    def _events_close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def _usage_for_record(self) -> Usage | None:
        """The provider's usage, completed by estimates where it is missing (see the module
        docstring)."""
        delivered = "".join(self.text_parts) + "".join(
            call.get("name", "") + call["arguments"] for call in self._tool_calls.values()
        )
        return usage_completed(
            self.usage,
            request=self.prepared.request,
            kind=self.served_by.provider_kind,
            delivered=delivered,
            interrupted=self.finish_reason is None,
        )

    def response(self) -> ChatResponse:
        """The reply assembled from the events seen so far."""
        calls = tuple(
            ToolCall(id=call.get("id", ""), name=call.get("name", ""), arguments=call["arguments"])
            for _, call in sorted(self._tool_calls.items())
        )
        return ChatResponse(
            text="".join(self.text_parts),
            tool_calls=calls,
            finish_reason=self.finish_reason or "error",
            usage=self.usage or Usage(),
            model=self.model_reported or self.served_by.model_name,
            request_id=self.provider_request_id,
        )

    def _observe(self, event: StreamEvent) -> None:
        if self._kept is not None:
            self._kept.append(event)
        if isinstance(event, TextDelta):
            self._clock.first_token()
            self.text_parts.append(event.text)
        elif isinstance(event, ToolCallDelta):
            self._clock.first_token()
            call = self._tool_calls.setdefault(event.index, {"arguments": ""})
            if event.id:
                call["id"] = event.id
            if event.name:
                call["name"] = event.name
            call["arguments"] += event.arguments
        elif isinstance(event, UsageEvent):
            self.usage = event.usage
        elif isinstance(event, Finish):
            self.finish_reason = event.finish_reason
            self.model_reported = event.model or self.model_reported
            self.provider_request_id = event.request_id or self.provider_request_id

    def _finish(self, *, error: BaseException | None = None, outcome: str | None = None) -> None:
        if self._done:
            return
        self._done = True
        try:
            record = self.run.record(
                prepared=self.prepared,
                attempt=self._clock,
                usage=self._usage_for_record(),
                error=error,
                outcome=outcome,
                provider_request_id=self.provider_request_id,
                model_reported=self.model_reported,
            )
            self.cost = record.cost
            self.usage_record_id = record.pk
        finally:
            self.run.settle()


class CachedStream(ChatStream):
    """A stream replayed from the response cache: the stored events, recorded as a hit."""

    @classmethod
    def replay(cls, run: CallRun, answer: CachedAnswer) -> "CachedStream":
        candidate = run.cache_candidate(answer)
        if candidate is None:  # cache_lookup only finds an answer whose model still serves
            raise RuntimeError("A cache hit needs its serving model.")
        prepared = Prepared(candidate, None, False, 0)
        return cls(
            run=run,
            prepared=prepared,
            events=iter(answer.events),
            buffered=[],
            clock=Attempt(),
            usage=None,
        )

    def _observed(self) -> Iterator[StreamEvent]:
        try:
            for event in self._events:
                self._observe(event)
                yield event
        except GeneratorExit:
            self._finish(outcome=CANCELLED)
            raise
        self._finish()

    def _finish(self, *, error: BaseException | None = None, outcome: str | None = None) -> None:
        if self._done:
            return
        self._done = True
        record = self.run.record_cache_hit(
            attempt=self._clock, outcome=outcome or "ok", model_reported=self.model_reported
        )
        self.cost = record.cost
        self.usage_record_id = record.pk


def chat_stream_open(
    run: CallRun, request: ChatRequest, *, trim_history: bool = False
) -> ChatStream:
    """Start an opened streamed call (chat.runtime.loop.chat_call_open): raises like
    chat_complete if no candidate produced a first chunk."""
    if run.cached is not None:
        return CachedStream.replay(run, run.cached)
    try:
        prepared, attempt, (events, buffered) = attempt_loop(
            run,
            chat_preparer(request, trim_history=trim_history),
            required_capabilities(request),
            partial(_first_chunk, run),
        )
    except BaseException:
        run.settle()
        raise
    return ChatStream(
        run=run,
        prepared=prepared,
        events=events,
        buffered=buffered,
        clock=attempt,
        usage=attempt.usage,
    )


def _first_chunk(
    run: CallRun, adapter: ProviderAdapter, prepared: Prepared, attempt: Attempt
) -> tuple[Iterator[StreamEvent], list[StreamEvent]]:
    """Open the candidate's stream and read it up to its first content event: (the stream,
    the events read). Usage seen before an error stays on `attempt` for its record."""
    events = adapter.stream(prepared.request)
    buffered: list[StreamEvent] = []
    for event in events:
        if run.out_of_time():
            close = getattr(events, "close", None)
            if close is not None:
                close()
            raise run.deadline_error(prepared.candidate)
        buffered.append(event)
        if isinstance(event, UsageEvent):
            attempt.usage = event.usage
        elif isinstance(event, TextDelta | ToolCallDelta):
            attempt.first_token()
        if isinstance(event, _CONTENT):
            break
    return events, buffered
