"""The native chat API: conversations and their messages, JSON or server-sent events.

`POST /api/conversations/{id}/messages/?stream=true` answers with events:
`start` {request_id, model, provider}, `delta` {text} or {tool_call}, then `done`
{message, usage, cost, latency_ms} or `error` {"error": {code, message, details}}.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from chat.api.serializers import (
    ConversationCreateInput,
    ConversationDetailOutput,
    ConversationOutput,
    MessageCreateInput,
    MessageOutput,
)
from chat.http import (
    SSEBody,
    body_size_check,
    cache_bypass_requested,
    cache_headers,
    sse_event,
    sse_response,
    stream_error,
)
from chat.negotiation import EventStreamNegotiation
from chat.selectors import conversation_get, conversation_list
from chat.services import (
    ConversationStream,
    conversation_create,
    conversation_delete,
    conversation_reply,
    conversation_reply_stream,
)
from chat.v1.rendering import usage_json
from config.errors import NotFound, PermissionDenied
from providers.adapters.types import TextDelta, ToolCallDelta
from providers.api.permissions import consumer_identity
from usage.attribution import TAGS_HEADER, attribution_parse


class ConversationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [IsAuthenticated]
    content_negotiation_class = EventStreamNegotiation
    serializer_class = ConversationOutput

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        body_size_check(request)
        super().initial(request, *args, **kwargs)

    def _owner(self) -> dict[str, Any]:
        identity = consumer_identity(self.request)
        if identity is not None:
            return {"api_key_id": identity.key_id}
        return {"owner_id": self.request.user.pk}

    def get_queryset(self):
        return conversation_list(**self._owner())

    def get_object(self):
        return conversation_get(pk=_pk(self.kwargs["pk"]), **self._owner())

    def get_serializer_class(self):
        return ConversationDetailOutput if self.action == "retrieve" else ConversationOutput

    @extend_schema(request=ConversationCreateInput, responses={201: ConversationDetailOutput})
    def create(self, request: Request) -> Response:
        data = _valid(ConversationCreateInput, request.data)
        identity = consumer_identity(request)
        if identity is not None and not identity.may_use(data["service"]):
            raise PermissionDenied(f"This API key may not use {data['service']!r}.")
        conversation = conversation_create(**data, **self._owner())
        conversation = conversation_get(pk=conversation.pk, **self._owner())
        return Response(ConversationDetailOutput(conversation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        conversation_delete(conversation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=MessageCreateInput,
        responses={201: MessageOutput},
        parameters=[OpenApiParameter("stream", bool, description="Answer as server-sent events")],
    )
    @action(detail=True, methods=["post"], url_path="messages")
    def messages(self, request: Request, pk: str) -> Any:
        conversation = self.get_object()
        data = _valid(MessageCreateInput, request.data)
        attribution = attribution_parse(
            user=data.pop("user", None),
            metadata=data.pop("metadata", None),
            tags_header=request.headers.get(TAGS_HEADER),
        )
        data.update(end_user=attribution.end_user, tags=attribution.tags)
        stream = request.query_params.get("stream", "").lower() in ("1", "true", "yes")
        bypass = cache_bypass_requested(request.headers)
        if not stream:
            reply, result = conversation_reply(
                conversation=conversation, cache_bypass=bypass, **data
            )
            return Response(
                MessageOutput(reply).data,
                status=status.HTTP_201_CREATED,
                headers={
                    "x-request-id": result.request_id,
                    "x-served-model": result.served_by.model_string,
                    **cache_headers(result.cache),
                },
            )
        turn = conversation_reply_stream(conversation=conversation, cache_bypass=bypass, **data)
        headers = {
            "x-request-id": turn.stream.request_id,
            "x-served-model": turn.stream.served_by.model_string,
            **cache_headers(turn.stream.cache),
        }
        return sse_response(SSEBody(_events(turn), turn.close), headers)


def _events(turn: ConversationStream):
    stream = turn.stream
    yield sse_event(
        {
            "request_id": stream.request_id,
            "model": stream.served_by.model_string,
            "provider": stream.served_by.provider_slug,
        },
        "start",
    )
    try:
        for event in turn.events():
            if isinstance(event, TextDelta) and event.text:
                yield sse_event({"text": event.text}, "delta")
            elif isinstance(event, ToolCallDelta):
                yield sse_event(
                    {
                        "tool_call": {
                            "index": event.index,
                            "id": event.id,
                            "name": event.name,
                            "arguments": event.arguments,
                        }
                    },
                    "delta",
                )
    except Exception as exc:
        yield sse_event(stream_error(exc).as_dict(), "error")
        return
    yield sse_event(
        {
            "message": MessageOutput(turn.reply).data,
            "usage": usage_json(stream.response().usage),
            "cost": None if stream.cost is None else str(stream.cost),
            "latency_ms": stream.latency_ms,
            "time_to_first_token_ms": stream.time_to_first_token_ms,
        },
        "done",
    )


def _valid(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _pk(value: str) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        pk = 0
    if not 0 < pk <= settings.API_MAX_INTEGER:
        raise NotFound("No such conversation.")
    return pk
