"""Anthropic's Messages API: thin views over chat.services, authenticated by consumer keys.

The key is read from `x-api-key` (the Anthropic SDK's `api_key` as sent by the older SDKs and
by curl examples) or `Authorization: Bearer` (the SDK today, and Claude Code's
ANTHROPIC_AUTH_TOKEN); `anthropic-version` and `anthropic-beta` are accepted and ignored:
the gateway speaks one version of the shapes. Authentication, the shared-cache pinning, the
model check and the request id are those of /v1 (chat.v1.views.V1View); only the shapes and
the error body differ.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from chat.anthropic_api.counting import message_tokens_count
from chat.anthropic_api.errors import anthropic_exception_handler
from chat.anthropic_api.parsing import messages_request_parse
from chat.anthropic_api.rendering import message_events, message_json
from chat.http import SSEBody, sse_response
from chat.services import ModelNotAvailable, chat_completion_run, chat_completion_stream
from chat.v1.views import V1View, served_headers
from providers.adapters.base import validate_chat_request
from providers.selectors import model_selection_names, models_available_list

# Anthropic's ModelInfo needs a creation time; the gateway's names have no meaningful one.
CREATED_AT = "1970-01-01T00:00:00Z"


class AnthropicView(V1View):
    def get_exception_handler(self):
        return anthropic_exception_handler


class MessagesView(AnthropicView):
    ledger_write_behind = True
    lean_post = True

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        description="Anthropic's Messages API: a message object, or server-sent events with "
        "stream=true; served by whichever provider the model or service resolves to.",
    )
    def post(self, request: Request) -> Any:
        chat_request, stream = messages_request_parse(self.request_data)
        # max_tokens is read as "at most" what the candidates can write: Anthropic clients
        # ask for what Claude can write (Claude Code sends 32,000 whatever the model).
        context, consumer = self.context(), self.identity
        if not stream:
            result = chat_completion_run(
                request=chat_request, context=context, consumer=consumer, fit_max_tokens=True
            )
            return Response(
                message_json(result, model=chat_request.model),
                headers=served_headers(result.served_by),
            )
        chat_stream = chat_completion_stream(
            request=chat_request, context=context, consumer=consumer, fit_max_tokens=True
        )
        body = SSEBody(message_events(chat_stream, model=chat_request.model), chat_stream.close)
        return sse_response(body, served_headers(chat_stream.served_by))


class CountTokensView(AnthropicView):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        description="The request's input tokens: counted by the provider when the model is on "
        "an Anthropic provider, else the gateway's estimate (about four characters a token, "
        "plus framing); the x-token-count header says which. Nothing is generated or charged.",
    )
    def post(self, request: Request) -> Response:
        chat_request, _ = messages_request_parse(request.data, count_only=True)
        validate_chat_request(chat_request)
        self.check_model(chat_request.model)
        tokens, method = message_tokens_count(request=chat_request)
        return Response({"input_tokens": tokens}, headers={"x-token-count": method})


def _model_info(model_id: str, display_name: str, max_tokens: int | None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": CREATED_AT,
    }
    if max_tokens:
        info["max_tokens"] = max_tokens
    return info


class ModelsView(AnthropicView):
    def models(self) -> list[dict[str, Any]]:
        """The services and chat model strings this key may call, services first."""
        data = [
            _model_info(name, name, None)
            for name in model_selection_names()
            if self.identity.may_use(name)
        ]
        for provider in models_available_list(kind="chat"):
            data.extend(
                _model_info(model.model_string, model.display_name, model.max_output_tokens)
                for model in provider.models
                if self.identity.may_use(model.model_string)
            )
        return data

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, operation_id="anthropic_models_list")
    def get(self, request: Request) -> Response:
        """Anthropic's model list, in one page."""
        data = self.models()
        return Response(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )


class ModelDetailView(ModelsView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, operation_id="anthropic_models_get")
    def get(self, request: Request, model_id: str) -> Response:  # type: ignore[override]
        found = next((m for m in self.models() if m["id"] == model_id), None)
        if found is None:
            raise ModelNotAvailable(f"model: {model_id[:200]}")
        return Response(found)
