"""The staff playground: pick a service or model, chat with streamed output, and see tokens,
cost, latency and which provider and model served. Calls go through the same runtime (and
ledger) as programs, on behalf of the staff user."""

from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from chat.http import SSEBody, sse_event, sse_response, stream_error
from chat.services import USE_MODELS_PERMISSION, ChatStream, chat_completion_stream
from chat.types import CallContext
from chat.v1.parsing import chat_request_parse
from chat.v1.rendering import usage_json
from config.api import error_body
from config.errors import ApplicationError
from config.hardening import json_loads_checked
from providers.adapters.types import ChatRequest, TextDelta, ToolCallDelta
from providers.selectors import model_selection_names, models_available_list


@require_GET
@staff_member_required
def playground(request: HttpRequest) -> HttpResponse:
    models = [
        model.model_string
        for provider in models_available_list(kind="chat")
        for model in provider.models
    ]
    return render(
        request,
        "chat/playground.html",
        {"services": model_selection_names(), "models": models, "title": "Playground"},
    )


@require_POST
def playground_stream(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """An OpenAI-shaped body in, playground events out: start, delta, done or error."""
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return JsonResponse(
            error_body("permission_denied", "The playground is for staff only."), status=403
        )
    if not user.has_perm(USE_MODELS_PERMISSION):
        return JsonResponse(
            error_body(
                "permission_denied",
                "Calling models needs the permission to use models (chat.use_models).",
            ),
            status=403,
        )
    try:
        data = json_loads_checked(request.body or b"null")
        chat_request: ChatRequest = chat_request_parse(data)[0]
        stream = chat_completion_stream(request=chat_request, context=CallContext(user_id=user.pk))
    except RequestDataTooBig:
        return JsonResponse(
            error_body("payload_too_large", "The message is too large."), status=413
        )
    except ApplicationError as error:
        return JsonResponse(error.as_dict(), status=error.http_status, headers=error.headers())
    return sse_response(SSEBody(_events(stream), stream.close), {"x-request-id": stream.request_id})


def _events(stream: ChatStream) -> Any:
    yield sse_event(
        {
            "request_id": stream.request_id,
            "model": stream.served_by.model_string,
            "provider": stream.served_by.provider_slug,
            "is_fallback": stream.is_fallback,
        },
        "start",
    )
    try:
        for event in stream:
            if isinstance(event, TextDelta) and event.text:
                yield sse_event({"text": event.text}, "delta")
            elif isinstance(event, ToolCallDelta):
                yield sse_event(
                    {"tool_call": {"name": event.name, "arguments": event.arguments}}, "delta"
                )
    except Exception as exc:
        yield sse_event(stream_error(exc).as_dict(), "error")
        return
    yield sse_event(
        {
            "usage": usage_json(stream.response().usage),
            "cost": None if stream.cost is None else str(stream.cost),
            "latency_ms": stream.latency_ms,
            "time_to_first_token_ms": stream.time_to_first_token_ms,
            "finish_reason": stream.finish_reason,
            "attempts": stream.run.attempts,
        },
        "done",
    )
