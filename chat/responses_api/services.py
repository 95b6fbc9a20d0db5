"""Answering Responses requests, and keeping the responses `previous_response_id` continues.

A request is prepared (the previous response's conversation read once, put behind the
instructions and in front of the new input), then answered by chat_completion_run/stream:
the same resolution, fallbacks, budgets, rate limits and ledger (one UsageRecord per
attempt) as /v1/chat/completions. A response is stored only once it has completed; a call
that failed, or a stream that was cut or abandoned, stores nothing.
"""

import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from chat.models import StoredResponse
from chat.responses_api.conversation import (
    conversation_dump,
    conversation_load,
    output_message,
    tool_names_filled,
)
from chat.responses_api.parsing import ResponsesRequest
from chat.responses_api.rendering import new_id, output_items, response_json, status_for
from chat.responses_api.selectors import stored_response_get
from chat.runtime.streaming import ChatStream
from chat.services import chat_completion_run, chat_completion_stream
from chat.types import CallContext, ChatResult
from chat.v1.parsing import count_check
from config.errors import RequestTooComplex
from config.outages import unavailable_raised
from providers.adapters.base import validate_chat_request
from providers.adapters.types import ChatRequest, FinishReason, Message, StreamEvent, Usage
from providers.resolution import ResolvedModel

PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ResponseCall:
    """A prepared call: `chat` is what the provider is sent; `turns` is the conversation
    to store (earlier turns and this input, without the instructions)."""

    response_id: str
    created_at: int
    request: ResponsesRequest
    chat: ChatRequest
    turns: tuple[Message, ...]
    api_key_id: str
    owner_id: int | None


def _history(stored: StoredResponse) -> tuple[Message, ...]:
    """The stored turns, refused (400) past RESPONSES_MAX_CONVERSATION_BYTES: a chain of
    continuations stores its whole conversation on every row, so its rows stay bounded."""
    size = len(json.dumps(stored.conversation, separators=(",", ":")))
    if size > settings.RESPONSES_MAX_CONVERSATION_BYTES:
        raise RequestTooComplex(
            "The conversation of previous_response_id is too long to continue; start a new one.",
            details={"param": "previous_response_id"},
        )
    return conversation_load(stored.conversation)


@unavailable_raised
def response_prepare(
    *, request: ResponsesRequest, api_key_id: str, owner_id: int | None
) -> ResponseCall:
    """The call to make for `request`; 404 (param previous_response_id) for a previous
    response this key did not make, or one expired or deleted."""
    history: tuple[Message, ...] = ()
    if request.previous_response_id:
        stored = stored_response_get(
            response_id=request.previous_response_id,
            api_key_id=api_key_id,
            param="previous_response_id",
        )
        history = _history(stored)
    turns = tool_names_filled((*history, *request.chat.messages))
    count_check(list(turns), settings.API_MAX_MESSAGES, "input", "items with earlier turns")
    system = (Message(role="system", content=request.instructions),) if request.instructions else ()
    chat = dataclasses.replace(request.chat, messages=(*system, *turns))
    validate_chat_request(chat)
    return ResponseCall(
        response_id=new_id("resp"),
        created_at=int(time.time()),
        request=request,
        chat=chat,
        turns=turns,
        api_key_id=api_key_id,
        owner_id=owner_id,
    )


@unavailable_raised
def response_create(
    *, call: ResponseCall, context: CallContext
) -> tuple[dict[str, Any], ChatResult]:
    """Answer `call` in one piece: (the Response object, the call's result)."""
    result = chat_completion_run(
        request=call.chat, context=context, trim_history=call.request.truncation == "auto"
    )
    reply = result.response
    output = output_items(reply)
    body = response_json(
        call,
        model=result.served_by.model_string,
        status=status_for(reply.finish_reason),
        output=output,
        usage=reply.usage,
        finish_reason=reply.finish_reason,
    )
    stored_response_create(
        call=call, body=body, output=output, usage_record_id=result.usage_record_id
    )
    return body, result


class ResponseStream:
    """A streamed response: iterate the provider's events, then `complete()` with the output
    items the client was shown, which stores the response and returns its final object."""

    def __init__(self, call: ResponseCall, stream: ChatStream) -> None:
        self.call = call
        self.stream = stream
        self.completed = False

    @property
    def served_by(self) -> ResolvedModel:
        return self.stream.served_by

    @property
    def request_id(self) -> str:
        return self.stream.request_id

    @property
    def finish_reason(self) -> FinishReason | None:
        return self.stream.finish_reason

    def __iter__(self) -> Iterator[StreamEvent]:
        return iter(self.stream)

    def snapshot(self, status: str) -> dict[str, Any]:
        """The Response object before any output (response.created, response.in_progress)."""
        return response_json(
            self.call, model=self.served_by.model_string, status=status, output=[], usage=None
        )

    @unavailable_raised
    def complete(self, *, output: list[dict[str, Any]]) -> dict[str, Any]:
        reply = self.stream.response()
        body = response_json(
            self.call,
            model=self.served_by.model_string,
            status=status_for(reply.finish_reason),
            output=output,
            usage=self.stream.usage or Usage(),
            finish_reason=reply.finish_reason,
        )
        stored_response_create(
            call=self.call, body=body, output=output, usage_record_id=self.stream.usage_record_id
        )
        self.completed = True
        return body

    def close(self) -> None:
        """Record a stream its client abandoned (the ledger's `cancelled`); stores nothing."""
        self.stream.close()


@unavailable_raised
def response_stream_open(*, call: ResponseCall, context: CallContext) -> ResponseStream:
    """A started stream (served_by known; errors before the first event already raised)."""
    stream = chat_completion_stream(
        request=call.chat, context=context, trim_history=call.request.truncation == "auto"
    )
    return ResponseStream(call, stream)


def stored_response_create(
    *,
    call: ResponseCall,
    body: dict[str, Any],
    output: list[dict[str, Any]],
    usage_record_id: int | None,
    now: datetime | None = None,
) -> StoredResponse | None:
    """Keep a finished response for RESPONSES_RETENTION_DAYS, unless the request said
    store=false or retention is 0 (then nothing is kept, and it cannot be continued)."""
    days = settings.RESPONSES_RETENTION_DAYS
    if not call.request.store or days <= 0:
        return None
    reply = output_message(output)
    turns = (*call.turns, reply) if reply is not None else call.turns
    created = now or timezone.now()
    return StoredResponse.objects.create(
        id=call.response_id,
        api_key_id=call.api_key_id,
        owner_id=call.owner_id,
        model=call.request.model,
        previous_response_id=call.request.previous_response_id or "",
        conversation=conversation_dump(turns),
        response=body,
        usage_record_id=usage_record_id,
        expires_at=created + timedelta(days=days),
    )


@unavailable_raised
def stored_response_delete(*, response_id: str, api_key_id: str) -> None:
    """Delete one of this key's responses (404 otherwise): it can no longer be continued."""
    stored_response_get(response_id=response_id, api_key_id=api_key_id).delete()


def stored_responses_purge(*, now: datetime | None = None) -> int:
    """Delete the responses past their retention, in small batches; safe to run twice."""
    cutoff = now or timezone.now()
    removed = 0
    while True:
        ids = list(
            StoredResponse.objects.filter(expires_at__lte=cutoff).values_list("pk", flat=True)[
                :PURGE_BATCH
            ]
        )
        if not ids:
            return removed
        removed += StoredResponse.objects.filter(pk__in=ids).delete()[0]
