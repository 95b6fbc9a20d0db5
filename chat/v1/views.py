"""The OpenAI-compatible API: thin views over chat.services, authenticated by consumer keys.

Every response carries x-request-id (the id on the call's UsageRecords); answered calls also
carry x-served-model (the model string that served) and x-served-provider, and chat
completions x-ignored-params when the serving provider kind did not receive some of the
request's parameters (docs/parameters.md).
"""

from contextlib import ExitStack
from typing import Any, cast

from django.http import HttpRequest, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.http import (
    SSEBody,
    body_size_check,
    cache_bypass_requested,
    cache_headers,
    json_response,
    sse_response,
)
from chat.negotiation import EventStreamNegotiation, negotiates_json_directly
from chat.services import (
    CallContext,
    chat_completion_run,
    chat_completion_stream,
    embedding_run,
    model_check,
    new_request_id,
    request_state_pinned,
)
from chat.v1.errors import openai_exception_handler
from chat.v1.options import ignored_header
from chat.v1.parsing import chat_request_parse, embedding_request_parse
from chat.v1.rendering import completion_chunks, completion_json, embeddings_json
from config.hardening import json_loads_checked
from config.request_context import current_request_id
from providers.api.authentication import ConsumerKeyAuthentication
from providers.consumers import ConsumerIdentity
from providers.resolution import ResolvedModel
from providers.selectors import model_selection_names, models_available_list
from usage.attribution import TAGS_HEADER, attribution_parse

_UNREAD = object()


def lean_eligible(request: HttpRequest) -> bool:
    """A POST of JSON with a body, no query string, and an Accept header that DRF's
    negotiation answers with JSON without parsing it: what API clients send. (DRF reads an
    empty body as an empty object, which the lean path leaves to DRF.)"""
    return (
        request.method == "POST"
        and request.content_type == "application/json"
        and request.META.get("CONTENT_LENGTH", "0") not in ("", "0")
        and negotiates_json_directly(request)
    )


def served_headers(model: ResolvedModel) -> dict[str, str]:
    return {"x-served-model": model.model_string, "x-served-provider": model.provider_slug}


class V1View(APIView):
    authentication_classes = [ConsumerKeyAuthentication]
    permission_classes = [IsAuthenticated]
    content_negotiation_class = EventStreamNegotiation
    request_id = ""
    # The endpoint's answers name no ledger row: the rows may be written after them.
    ledger_write_behind = False
    # POSTs of plain JSON take the lean path (`_lean_dispatch`); the view reads `request_data`.
    lean_post = False
    _lean_data: Any = _UNREAD

    def get_exception_handler(self):
        return openai_exception_handler

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with ExitStack() as self.request_pins:
            if self.lean_post and lean_eligible(request):
                return self._lean_dispatch(request, *args, **kwargs)
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self._call_begin(request)
        super().initial(request, *args, **kwargs)

    def _call_begin(self, request: Any) -> None:
        self.request_id = current_request_id() or new_request_id()
        body_size_check(request)
        # The call's shared-cache state, read once and pinned until the response:
        # authentication and the call reuse it.
        self.request_pins.enter_context(request_state_pinned())

    def _lean_dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """DRF's dispatch for the requests `lean_eligible` admits, without its Request wrapper:
        the same negotiation, authentication, permissions, JSON reader, exception handler and
        response headers, at about a tenth of a call's CPU less. Anything else (another
        method, content type or Accept header, a query string, an empty body) takes DRF's
        own path."""
        self.headers = self.default_response_headers
        self.format_kwarg = None
        try:
            self._call_begin(request)
            renderer, media_type = self.perform_content_negotiation(request)  # type: ignore[arg-type]
            request.accepted_renderer, request.accepted_media_type = renderer, media_type  # type: ignore[attr-defined]
            request.user, request.auth = self._lean_authenticate(request)  # type: ignore[attr-defined]
            self._lean_check_permissions(request)
            self.check_throttles(request)  # type: ignore[arg-type]
            self._lean_data = json_loads_checked(request.body)
            response = self.post(request, *args, **kwargs)  # type: ignore[attr-defined]
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)  # type: ignore[arg-type]
        return self.response

    def _lean_authenticate(self, request: HttpRequest) -> tuple[Any, Any]:
        """DRF's authentication: the first authenticator that recognises the request, else a
        401 (which is what IsAuthenticated makes of an anonymous request)."""
        for authenticator in self.get_authenticators():
            user_auth = authenticator.authenticate(request)  # type: ignore[arg-type]
            if user_auth is not None:
                return user_auth
        raise NotAuthenticated()

    def _lean_check_permissions(self, request: HttpRequest) -> None:
        """DRF's check for an authenticated request: a refusal is a 403."""
        for permission in self.get_permissions():
            if not permission.has_permission(request, self):  # type: ignore[arg-type]
                raise PermissionDenied(
                    getattr(permission, "message", None), getattr(permission, "code", None)
                )

    @property
    def request_data(self) -> Any:
        """The request's JSON body, read once, whichever path the request took."""
        return self.request.data if self._lean_data is _UNREAD else self._lean_data

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.request_id:
            response["x-request-id"] = self.request_id
        return response

    @property
    def identity(self) -> ConsumerIdentity:
        return cast(ConsumerIdentity, self.request.auth)

    def context(self) -> CallContext:
        body = self.request_data if isinstance(self.request_data, dict) else {}
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
            ledger_write_behind=self.ledger_write_behind,
        )

    def check_model(self, name: str) -> None:
        """404 for a model the key may not use, as OpenAI answers (it does not say which),
        for endpoints that make no call through chat.services."""
        model_check(consumer=self.identity, name=name)


class ChatCompletionsView(V1View):
    ledger_write_behind = True
    lean_post = True

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        description="OpenAI's chat completions: JSON, or server-sent chunks with stream=true.",
    )
    def post(self, request: Request) -> Any:
        data = self.request_data
        chat_request, stream, include_usage = chat_request_parse(data)
        if not stream:
            result = chat_completion_run(
                request=chat_request, context=self.context(), consumer=self.identity
            )
            headers = served_headers(result.served_by) | cache_headers(result.cache)
            headers |= ignored_header(data, chat_request, result.served_by.provider_kind)
            return json_response(completion_json(result), headers)
        chat_stream = chat_completion_stream(
            request=chat_request, context=self.context(), consumer=self.identity
        )
        body = SSEBody(
            completion_chunks(chat_stream, include_usage=include_usage), chat_stream.close
        )
        headers = served_headers(chat_stream.served_by) | cache_headers(chat_stream.cache)
        headers |= ignored_header(data, chat_request, chat_stream.served_by.provider_kind)
        return sse_response(body, headers)


class EmbeddingsView(V1View):
    ledger_write_behind = True
    lean_post = True

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        description="OpenAI's embeddings (float or base64 encoding).",
    )
    def post(self, request: Request) -> HttpResponse:
        embedding_request, encoding = embedding_request_parse(self.request_data)
        result = embedding_run(
            request=embedding_request, context=self.context(), consumer=self.identity
        )
        return json_response(
            embeddings_json(result, encoding=encoding), served_headers(result.served_by)
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
