"""The OpenAI-compatible API: thin views over chat.services, authenticated by consumer keys.

Every response carries x-request-id (the id on the call's UsageRecords); answered calls also
carry x-served-model (the model string that served) and x-served-provider, and chat
completions x-ignored-params when the serving provider kind did not receive some of the
request's parameters (docs/parameters.md).
"""

from contextlib import ExitStack
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.http import SSEBody, body_size_check, sse_response
from chat.negotiation import EventStreamNegotiation
from chat.runtime.call import call_state_pinned, call_state_read
from chat.runtime.response_cache import cache_bypass_requested, cache_headers
from chat.runtime.types import CallContext, new_request_id
from chat.services import chat_completion_run, chat_completion_stream, embedding_run
from chat.v1.errors import openai_exception_handler
from chat.v1.options import ignored_header
from chat.v1.parsing import chat_request_parse, embedding_request_parse
from chat.v1.rendering import completion_chunks, completion_json, embeddings_json
from config.errors import ApplicationError, NotFound
from config.request_context import current_request_id
from providers.adapters.base import validate_chat_request
from providers.api.authentication import ConsumerKeyAuthentication
from providers.consumers import ConsumerIdentity, keys_generation
from providers.resolution import ResolvedModel
from providers.selectors import (
    model_selection_names,
    model_selection_resolve,
    models_available_list,
)
from usage.attribution import TAGS_HEADER, attribution_parse


class ModelNotAvailable(NotFound):
    code = "model_not_found"


def served_headers(model: ResolvedModel) -> dict[str, str]:
    return {"x-served-model": model.model_string, "x-served-provider": model.provider_slug}


class V1View(APIView):
    authentication_classes = [ConsumerKeyAuthentication]
    permission_classes = [IsAuthenticated]
    content_negotiation_class = EventStreamNegotiation
    request_id = ""

    def get_exception_handler(self):
        return openai_exception_handler

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with ExitStack() as self.request_pins:
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.request_id = current_request_id() or new_request_id()
        body_size_check(request)
        self.cache_state_read()
        super().initial(request, *args, **kwargs)

    def cache_state_read(self) -> None:
        """Read all the shared-cache state of this request in one round trip (the consumer
        keys', catalog and limits generations, the providers' breakers) and pin it until the
        response: authentication, the model check and the call reuse it."""
        state = call_state_read(generations=(keys_generation,))
        self.request_pins.enter_context(call_state_pinned(state))

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.request_id:
            response["x-request-id"] = self.request_id
        return response

    @property
    def identity(self) -> ConsumerIdentity:
        return self.request.auth

    def context(self) -> CallContext:
        body = self.request.data if isinstance(self.request.data, dict) else {}
        attribution = attribution_parse(
            user=body.get("user"),
            metadata=body.get("metadata"),
            tags_header=self.request.headers.get(TAGS_HEADER),
        )
        return CallContext(
            api_key_id=self.identity.key_id,
            user_id=self.identity.owner_id,
            request_id=self.request_id,
            end_user=attribution.end_user,
            tags=attribution.tags,
            cache_bypass=cache_bypass_requested(self.request.headers),
        )

    def check_model(self, name: str) -> None:
        """404 for a model the key may not use, as OpenAI answers (it does not say which)."""
        message = f"The model `{name}` does not exist or you do not have access to it."
        if not self.identity.may_use(name):
            raise ModelNotAvailable(message, details={"param": "model"})
        try:
            model_selection_resolve(name=name)
        except (NotFound, ApplicationError) as exc:
            if exc.http_status in (400, 404):
                raise ModelNotAvailable(message, details={"param": "model"}) from None
            raise


class ChatCompletionsView(V1View):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        description="OpenAI's chat completions: JSON, or server-sent chunks with stream=true.",
    )
    def post(self, request: Request) -> Any:
        chat_request, stream, include_usage = chat_request_parse(request.data)
        validate_chat_request(chat_request)
        self.check_model(chat_request.model)
        if not stream:
            result = chat_completion_run(request=chat_request, context=self.context())
            headers = served_headers(result.served_by) | cache_headers(result.cache)
            headers |= ignored_header(request.data, chat_request, result.served_by.provider_kind)
            return Response(completion_json(result), headers=headers)
        chat_stream = chat_completion_stream(request=chat_request, context=self.context())
        body = SSEBody(
            completion_chunks(chat_stream, include_usage=include_usage), chat_stream.close
        )
        headers = served_headers(chat_stream.served_by) | cache_headers(chat_stream.cache)
        headers |= ignored_header(request.data, chat_request, chat_stream.served_by.provider_kind)
        return sse_response(body, headers)


class EmbeddingsView(V1View):
    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        description="OpenAI's embeddings (float or base64 encoding).",
    )
    def post(self, request: Request) -> Response:
        embedding_request, encoding = embedding_request_parse(request.data)
        self.check_model(embedding_request.model)
        result = embedding_run(request=embedding_request, context=self.context())
        return Response(
            embeddings_json(result, encoding=encoding), headers=served_headers(result.served_by)
        )


class ModelsView(V1View):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        """The services and model strings this key may call."""
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "service"}
            for name in model_selection_names()
            if self.identity.may_use(name)
        ]
        for provider in models_available_list():
            data.extend(
                {
                    "id": model.model_string,
                    "object": "model",
                    "created": 0,
                    "owned_by": provider.slug,
                }
                for model in provider.models
                if self.identity.may_use(model.model_string)
            )
        return Response({"object": "list", "data": data})
