"""Request logs: the request and response of each call, for the services that opted in.

A service opts in with its selection's `request_log_days` (0, the default, keeps nothing); a
call by model string has no service and is never logged. The service layer (chat.services)
writes the log once the call has ended: after the reply, after the error, or after the last
event of a stream (or its abandonment). What is stored:
- the request as the gateway received it (the internal ChatRequest, and who called);
- the response (the internal ChatResponse, who served it, its cost and usage record), or the
  error's code and message;
each string scrubbed of credential shapes (config.logging.redact) and then of every pattern
in REQUEST_LOG_REDACT_PATTERNS, serialised to JSON, cut to REQUEST_LOG_MAX_BYTES and
compressed with zlib. The log expires `request_log_days` after the call; the "chat: delete
expired request logs" schedule deletes it.

Writing a log never fails a call: a log that cannot be written is reported in the
application log (without its content) and the call's answer goes on.
"""

import dataclasses
import json
import logging
import re
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from chat.models import RequestLog
from chat.runtime.streaming import ChatStream
from chat.types import CallContext, ChatResult, new_request_id
from config.errors import ApplicationError
from config.logging import redact
from providers.adapters.types import ChatRequest, StreamEvent
from providers.selectors import resolution_local_get

logger = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
CANCELLED = "cancelled"
DELETE_BATCH = 1000


def call_context_with_id(context: CallContext | None) -> CallContext:
    """The caller's context with a request id, so that a failed call's log and its usage
    records carry the same one (the runtime would otherwise draw it itself)."""
    context = context or CallContext()
    if context.request_id:
        return context
    return dataclasses.replace(context, request_id=new_request_id())


def request_log_days(*, name: str) -> int:
    """How long the call of `name` that just ran in this thread is kept: what its own
    resolution said (a thread-local read, no cache round trip). 0 for a model string, and for
    a call refused before it was resolved (nothing reached a provider)."""
    selection = resolution_local_get(name=name)
    if selection is None or selection.service is None:
        return 0
    # A resolution cached before this field existed has none: it is not kept.
    return getattr(selection, "request_log_days", 0)


# -- writing -------------------------------------------------------------------------------------
def request_log_result(*, request: ChatRequest, context: CallContext, result: ChatResult) -> None:
    """Log an answered, unstreamed call if its service keeps logs."""
    days = request_log_days(name=request.model)
    if days:
        _write(
            request=request,
            context=context,
            days=days,
            model_string=result.served_by.model_string,
            outcome="ok",
            response={
                "response": dataclasses.asdict(result.response),
                "served_by": result.served_by.model_string,
                "is_fallback": result.is_fallback,
                "attempts": result.attempts,
                "cost": None if result.cost is None else str(result.cost),
                "usage_record_id": result.usage_record_id,
                "latency_ms": result.latency_ms,
            },
        )


def request_log_failure(
    *, request: ChatRequest, context: CallContext, error: ApplicationError, streamed: bool = False
) -> None:
    """Log a call that ended with `error` (before a stream's first event, for streams)."""
    days = request_log_days(name=request.model)
    if days:
        _write(
            request=request,
            context=context,
            days=days,
            outcome=error.code,
            streamed=streamed,
            response={"error": _error_json(error)},
        )


class LoggedChatStream:
    """A ChatStream whose log is written when it ends: after its last event, its error, or
    close() of an abandoned stream. Everything else is the wrapped stream's."""

    def __init__(
        self, stream: ChatStream, *, request: ChatRequest, context: CallContext, days: int
    ) -> None:
        self._stream = stream
        self._request = request
        self._context = context
        self._days = days
        self._logged = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __iter__(self) -> Iterator[StreamEvent]:
        try:
            yield from self._stream
        except ApplicationError as error:
            self._log(outcome=error.code, error=error)
            raise
        except GeneratorExit:
            self._log(outcome=CANCELLED)
            raise
        self._log(outcome="ok")

    def close(self) -> None:
        self._stream.close()
        self._log(outcome=CANCELLED)

    def _log(self, *, outcome: str, error: ApplicationError | None = None) -> None:
        if self._logged:
            return
        self._logged = True
        stream = self._stream
        response: dict[str, Any] = {
            "response": dataclasses.asdict(stream.response()),
            "served_by": stream.served_by.model_string,
            "is_fallback": stream.is_fallback,
            "cost": None if stream.cost is None else str(stream.cost),
            "usage_record_id": stream.usage_record_id,
        }
        if error is not None:
            response["error"] = _error_json(error)
        _write(
            request=self._request,
            context=self._context,
            days=self._days,
            model_string=stream.served_by.model_string,
            outcome=outcome,
            streamed=True,
            response=response,
        )


def _write(
    *,
    request: ChatRequest,
    context: CallContext,
    days: int,
    outcome: str,
    response: dict[str, Any],
    model_string: str = "",
    streamed: bool = False,
) -> None:
    request_json = {
        "request": dataclasses.asdict(request),
        "context": {
            "user_id": context.user_id,
            "api_key_id": context.api_key_id,
            "conversation_id": context.conversation_id,
        },
    }
    request_body, request_bytes = _pack(request_json)
    response_body, response_bytes = _pack(response)
    now = timezone.now()
    try:
        RequestLog.objects.create(
            request_id=(context.request_id or "")[:64],
            service=request.model[:64],
            model_string=model_string[:200],
            outcome=outcome[:64],
            streamed=streamed,
            created_at=now,
            expires_at=now + timedelta(days=days),
            request_body=request_body,
            response_body=response_body,
            request_bytes=request_bytes,
            response_bytes=response_bytes,
        )
    except DatabaseError:
        logger.warning(
            "Request log of %s (service %s) not written", context.request_id, request.model
        )


def _error_json(error: ApplicationError) -> dict[str, Any]:
    return {"code": error.code, "http_status": error.http_status, "message": error.message}


# -- redaction and packing ---------------------------------------------------------------------
@lru_cache(maxsize=4)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in patterns)


def text_redact(text: str) -> str:
    """`text` without credential shapes or anything REQUEST_LOG_REDACT_PATTERNS matches."""
    text = redact(text)
    for pattern in _compiled(tuple(settings.REQUEST_LOG_REDACT_PATTERNS)):
        text = pattern.sub(REDACTED, text)
    return text


def value_redact(value: Any) -> Any:
    """Every string of a JSON-able value (keys included) redacted."""
    if isinstance(value, str):
        return text_redact(value)
    if isinstance(value, dict):
        return {text_redact(str(k)): value_redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [value_redact(v) for v in value]
    return value


def _pack(value: Any) -> tuple[bytes, int]:
    """Redacted, JSON-encoded (cut to REQUEST_LOG_MAX_BYTES) and compressed; with the size
    of the JSON before compression."""
    data = json.dumps(value_redact(value), default=str, ensure_ascii=False).encode()
    limit = settings.REQUEST_LOG_MAX_BYTES
    if len(data) > limit:
        cut = {"truncated": True, "bytes": len(data), "text": data[:limit].decode(errors="ignore")}
        data = json.dumps(cut, ensure_ascii=False).encode()
    return zlib.compress(data, 6), len(data)


def request_log_content(*, log: RequestLog) -> tuple[Any, Any]:
    """The stored (request, response) of a log, decompressed."""
    return (
        json.loads(zlib.decompress(bytes(log.request_body))),
        json.loads(zlib.decompress(bytes(log.response_body))),
    )


# -- retention -----------------------------------------------------------------------------------
def request_logs_delete_expired(*, now: datetime | None = None) -> int:
    """Delete the logs whose time is up, in batches; the number deleted. Safe to run twice."""
    now = now or timezone.now()
    removed = 0
    while True:
        ids = list(
            RequestLog.objects.filter(expires_at__lte=now).values_list("pk", flat=True)[
                :DELETE_BATCH
            ]
        )
        if not ids:
            return removed
        removed += RequestLog.objects.filter(pk__in=ids).delete()[0]
