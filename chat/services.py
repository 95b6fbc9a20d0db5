"""Calling models: the entry points for the APIs and for the project's own Python code.

`model` in each request is a service name ("rag_agent") or a model string
("anthropic:claude-sonnet-4-5"). Each call is resolved from the cache, admitted against rate
limits and budgets, tried on the selection's candidates with retries and failover, recorded
(one UsageRecord per attempt) and settled. See chat.runtime for the pieces.

    result = chat_completion_run(request=ChatRequest(model="rag_agent", messages=(
        Message(role="user", content="Hello"),)))
    result.response.text, result.cost, result.served_by.model_string

Redis or the database being unreachable raises config.errors.ServiceUnavailable (503, retry
later) from these functions and from iterating a stream, never a raw redis or database error.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.db import transaction

from chat.content import content_parse
from chat.models import Conversation, MessageRole
from chat.models import Message as ChatMessage
from chat.request_logs import (
    LoggedChatStream,
    call_context_with_id,
    request_log_days,
    request_log_failure,
    request_log_result,
)
from chat.runtime.loop import (
    chat_call_open,
    chat_complete,
    embedding_call_open,
    embedding_complete,
    selection_for,
)
from chat.runtime.state import call_state_pinned
from chat.runtime.streaming import ChatStream, chat_stream_open
from chat.types import (
    CallContext,
    ChatResult,
    EmbeddingResult,
    ModelNotAvailable,
    new_request_id,
)
from config.errors import ApplicationError, InvalidInput, PermissionDenied
from config.outages import unavailable_raised
from config.request_context import current_request_id
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    Message,
    Role,
    StreamEvent,
    ToolCall,
)
from providers.consumers import ConsumerIdentity, consumer_identity_for
from providers.models import ConsumerAPIKey
from providers.selectors import model_selection_resolve

# Spending as a signed-in user (playground, conversations) needs this permission explicitly.
USE_MODELS_PERMISSION = "chat.use_models"


# What views and callers use with these functions (the runtime's internals stay private).
__all__ = [
    "CallContext",
    "ChatResult",
    "ChatStream",
    "EmbeddingResult",
    "ModelNotAvailable",
    "new_request_id",
    "request_state_pinned",
]


def request_state_pinned() -> AbstractContextManager[object]:
    """Read the shared-cache state of a call in one round trip (generations of keys, catalog
    and limits; the providers' breakers) and pin it for the block: an API request enters it
    before authenticating, so the key lookup and the call it makes share that one read.
    Raises ServiceUnavailable when the cache is unreachable."""
    return call_state_pinned()


@unavailable_raised
def model_check(*, consumer: ConsumerIdentity, name: str) -> None:
    """ModelNotAvailable unless `consumer` may use `name` and it resolves (for endpoints that
    take a model but make no call through these functions, such as token counting)."""
    selection_for(name, consumer)


@unavailable_raised
def chat_completion_run(
    *,
    request: ChatRequest,
    context: CallContext | None = None,
    consumer: ConsumerIdentity | None = None,
    trim_history: bool = False,
    fit_max_tokens: bool = False,
) -> ChatResult:
    """One chat completion: open (validate, resolve, admit), run (attempts with retries and
    failover, one UsageRecord each, settle), log (services that keep request logs).

    Raises a ProviderError (or a 4xx ApplicationError) when no candidate could answer. With a
    `consumer` (an API key), a model it may not use or that does not exist is
    ModelNotAvailable. With `trim_history` the oldest turns are dropped to fit each
    candidate's context window (conversations); without it a request that does not fit a
    candidate skips that candidate. `fit_max_tokens` reads max_tokens as "at most" the
    largest output limit of the candidates (Anthropic clients)."""
    context = call_context_with_id(context)
    try:
        run, prepared = chat_call_open(
            request,
            context,
            consumer=consumer,
            streamed=False,
            trim_history=trim_history,
            fit_max_tokens=fit_max_tokens,
        )
        result = chat_complete(run, prepared, trim_history=trim_history)
    except ApplicationError as error:
        request_log_failure(request=request, context=context, error=error)
        raise
    request_log_result(request=request, context=context, result=result)
    return result


@unavailable_raised
def chat_completion_stream(
    *,
    request: ChatRequest,
    context: CallContext | None = None,
    consumer: ConsumerIdentity | None = None,
    trim_history: bool = False,
    fit_max_tokens: bool = False,
) -> ChatStream:
    """A streamed chat completion, already started: `served_by` is known when this returns,
    errors before the first chunk are raised here (after failover), errors after it are
    raised while iterating. Iterate the stream to the end, or close() it. Arguments as for
    `chat_completion_run`.

    Calls of a service that keeps request logs are logged when they end (chat.request_logs).
    """
    context = call_context_with_id(context)
    try:
        run, prepared = chat_call_open(
            request,
            context,
            consumer=consumer,
            streamed=True,
            trim_history=trim_history,
            fit_max_tokens=fit_max_tokens,
        )
        stream = chat_stream_open(run, prepared, trim_history=trim_history)
    except ApplicationError as error:
        request_log_failure(request=request, context=context, error=error, streamed=True)
        raise
    days = request_log_days(name=request.model)
    if not days:
        return stream
    # Same interface as the stream it wraps; it writes the log when the stream ends.
    return cast(ChatStream, LoggedChatStream(stream, request=request, context=context, days=days))


@unavailable_raised
def embedding_run(
    *,
    request: EmbeddingRequest,
    context: CallContext | None = None,
    consumer: ConsumerIdentity | None = None,
) -> EmbeddingResult:
    """Embeddings of `request.inputs`, with the same retries, failover and ledger as chat."""
    run = embedding_call_open(request, context, consumer=consumer)
    return embedding_complete(run, request)


# -- conversations ----------------------------------------------------------------------------
@unavailable_raised
def conversation_create(
    *,
    service: str,
    owner_id: int | None = None,
    api_key_id: str | None = None,
    title: str = "",
    system_prompt: str = "",
) -> Conversation:
    """A conversation answered by `service` (checked to resolve), owned by a user or a key
    that may use it now."""
    if (owner_id is None) == (api_key_id is None):
        raise InvalidInput("A conversation belongs to exactly one user or API key.")
    conversation_scope_check(service=service, owner_id=owner_id, api_key_id=api_key_id)
    model_selection_resolve(name=service)
    with transaction.atomic():
        conversation = Conversation.objects.create(
            service=service, owner_id=owner_id, api_key_id=api_key_id, title=title[:200]
        )
        if system_prompt:
            ChatMessage.objects.create(
                conversation=conversation, role=MessageRole.SYSTEM, content=system_prompt
            )
    return conversation


def conversation_scope_check(
    *, service: str, owner_id: int | None = None, api_key_id: str | None = None
) -> None:
    """Whoever owns the conversation may still spend on `service`, read from the database on
    every post: a key narrowed, revoked or expired since the conversation began, and a user
    made inactive or stripped of `chat.use_models`, are refused (403) before any call."""
    if api_key_id is not None:
        key = ConsumerAPIKey.objects.filter(pk=api_key_id).first()
        if key is None or key.revoked or key.has_expired:
            raise PermissionDenied("This API key is revoked or expired.")
        if not consumer_identity_for(key).may_use(service):
            raise PermissionDenied(f"This API key may not use {service[:200]!r}.")
        return
    user = get_user_model().objects.filter(pk=owner_id).first() if owner_id is not None else None
    if user is None or not user.is_active or not user.has_perm(USE_MODELS_PERMISSION):
        raise PermissionDenied(
            "Calling models needs the permission to use models (chat.use_models)."
        )


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


def _history(conversation: Conversation) -> tuple[Message, ...]:
    return tuple(
        Message(
            role=cast(Role, m.role),
            content=content_parse(m.content, "content"),
            tool_calls=tuple(ToolCall(**call) for call in m.tool_calls or ()),
            tool_call_id=m.tool_call_id or None,
        )
        for m in ChatMessage.objects.filter(conversation=conversation).order_by("created_at", "id")
    )


def _user_message_add(conversation: Conversation, content: Any) -> ChatMessage:
    content_parse(content, "content")  # validates: text or a list of content parts
    if not content:
        raise InvalidInput("content must not be empty.", details={"param": "content"})
    message = ChatMessage.objects.create(
        conversation=conversation, role=MessageRole.USER, content=content
    )
    if not conversation.title:
        text = (
            content
            if isinstance(content, str)
            else "".join(p.get("text", "") for p in content if isinstance(p, dict))
        )
        conversation.title = text[:80]
    conversation.save(update_fields=["title", "updated_at"])
    return message


def _assistant_message_add(
    conversation: Conversation,
    *,
    response: ChatResponse,
    model_string: str,
    cost: Decimal | None,
    usage_record_id: int | None,
) -> ChatMessage:
    return ChatMessage.objects.create(
        conversation=conversation,
        role=MessageRole.ASSISTANT,
        content=response.text,
        tool_calls=[
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls
        ],
        model_string=model_string,
        prompt_tokens=response.usage.prompt_tokens,
        completion_tokens=response.usage.completion_tokens,
        cost=cost,
        usage_record_id=usage_record_id,
    )


def _turn(
    conversation: Conversation,
    content: Any,
    max_tokens: int | None,
    end_user: str = "",
    tags: tuple[str, ...] = (),
    cache_bypass: bool = False,
) -> tuple[ChatMessage, ChatRequest, CallContext]:
    conversation_scope_check(
        service=conversation.service,
        owner_id=conversation.owner_id,
        api_key_id=conversation.api_key_id,
    )
    user_message = _user_message_add(conversation, content)
    request = ChatRequest(
        model=conversation.service, messages=_history(conversation), max_tokens=max_tokens
    )
    context = CallContext(
        user_id=conversation.owner_id,
        api_key_id=conversation.api_key_id,
        conversation_id=conversation.pk,
        request_id=current_request_id(),
        end_user=end_user,
        tags=tags,
        cache_bypass=cache_bypass,
    )
    return user_message, request, context


@unavailable_raised
def conversation_reply(
    *,
    conversation: Conversation,
    content: Any,
    max_tokens: int | None = None,
    end_user: str = "",
    tags: tuple[str, ...] = (),
    cache_bypass: bool = False,
) -> tuple[ChatMessage, ChatResult]:
    """Add the user's message, answer it with the history trimmed to the model's context
    window, and store the reply. A failed call leaves the conversation as it was.
    `cache_bypass` skips the service's response cache for this turn."""
    user_message, request, context = _turn(
        conversation, content, max_tokens, end_user, tags, cache_bypass
    )
    try:
        result = chat_completion_run(request=request, context=context, trim_history=True)
    except BaseException:
        user_message.delete()
        raise
    reply = _assistant_message_add(
        conversation,
        response=result.response,
        model_string=result.served_by.model_string,
        cost=result.cost,
        usage_record_id=result.usage_record_id,
    )
    return reply, result


class ConversationStream:
    """A streamed reply: iterate `events`; once they end, `reply` is the stored message.
    A stream that fails or is abandoned leaves the conversation as it was."""

    def __init__(self, conversation: Conversation, user_message: ChatMessage, stream: ChatStream):
        self.conversation = conversation
        self.user_message = user_message
        self.stream = stream
        self.reply: ChatMessage | None = None

    def events(self) -> Iterator[StreamEvent]:
        try:
            yield from self.stream
        except BaseException:
            self.user_message.delete()
            raise
        self.reply = _assistant_message_add(
            self.conversation,
            response=self.stream.response(),
            model_string=self.stream.served_by.model_string,
            cost=self.stream.cost,
            usage_record_id=self.stream.usage_record_id,
        )

    def close(self) -> None:
        if self.reply is None and not self.stream.error:
            self.stream.close()


@unavailable_raised
def conversation_reply_stream(
    *,
    conversation: Conversation,
    content: Any,
    max_tokens: int | None = None,
    end_user: str = "",
    tags: tuple[str, ...] = (),
    cache_bypass: bool = False,
) -> ConversationStream:
    user_message, request, context = _turn(
        conversation, content, max_tokens, end_user, tags, cache_bypass
    )
    try:
        stream = chat_completion_stream(request=request, context=context, trim_history=True)
    except BaseException:
        user_message.delete()
        raise
    return ConversationStream(conversation, user_message, stream)
