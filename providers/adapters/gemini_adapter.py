"""Google Gemini API adapter over the google-genai SDK (not Vertex AI, not google-generativeai).

One `genai.Client` per provider settings: the key travels in the x-goog-api-key header, the
API version is pinned to v1beta, the base URL is set explicitly (so GOOGLE_GEMINI_BASE_URL and
friends in the environment cannot redirect calls), HttpOptions.timeout is in MILLISECONDS,
and the SDK's own retries are off (HttpRetryOptions(attempts=1)): the runtime retries.
Request and response mapping, and how usageMetadata maps onto the usage buckets, live in
`gemini_mapping`.

Embeddings: the installed SDK sends every Gemini API embed_content call to
`models/{model}:batchEmbedContents`. The Gemini API reports no token counts for embeddings,
so usage stays zero unless the answer carries usageMetadata.

Errors are chosen by SDK exception type and Google's structured fields (HTTP code, `status`,
google.rpc ErrorInfo `reason`, RetryInfo `retryDelay`). A bad key is 400 INVALID_ARGUMENT with
reason API_KEY_INVALID, so the reason is checked before the code. Google messages may echo a
URL with ?key=..., so every message goes through `scrub`.
"""

import importlib
import json
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from providers.adapters import gemini_mapping as mapping
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import (
    ContextLengthExceededError,
    MalformedResponseError,
    ModelNotFoundError,
    ProviderAuthenticationError,
    ProviderBadRequestError,
    ProviderError,
    ProviderPermissionError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitedError,
    StreamInterruptedError,
    retry_after_seconds,
)
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Finish,
    ProviderSettings,
    ReasoningDelta,
    ReasoningPart,
    RemoteModel,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
API_VERSION = "v1beta"
_RPC = "type.googleapis.com/google.rpc."


def _transport_classes(name: str) -> tuple[type[BaseException], ...]:
    """The named exception class from each HTTP library the SDK may use (httpx2 or httpx)."""
    found: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found.append(getattr(module, name))
    return tuple(found)


_TIMEOUT_ERRORS = _transport_classes("TimeoutException")
_CONNECT_ERRORS = _transport_classes("ConnectError")
_BROKEN_STREAM_ERRORS = _transport_classes("RemoteProtocolError") + _transport_classes("ReadError")
_TRANSPORT_ERRORS = _transport_classes("TransportError")
_MALFORMED_ERRORS = (
    genai_errors.UnknownApiResponseError,
    json.JSONDecodeError,
    pydantic.ValidationError,
)


class GeminiAdapter(ProviderAdapter):
    supports_embeddings: ClassVar[bool] = True

    def build_client(self, settings: ProviderSettings) -> genai.Client:
        if not settings.api_key:
            raise ProviderAuthenticationError(
                "No API key is configured for this Gemini provider.", provider=settings.slug
            )
        options = types.HttpOptions(
            base_url=settings.base_url or DEFAULT_BASE_URL,
            api_version=API_VERSION,
            headers=dict(settings.extra_headers) or None,
            timeout=max(1, int(settings.timeout * 1000)),
            retry_options=types.HttpRetryOptions(attempts=1),
            httpx_client=self.http_client(),
        )
        return genai.Client(api_key=settings.api_key, vertexai=False, http_options=options)

    # -- chat ----------------------------------------------------------------------------
    def _complete(self, request: ChatRequest) -> ChatResponse:
        response = self.client.models.generate_content(
            model=request.model,
            contents=mapping.contents_from(request.messages),
            config=mapping.generate_config(request),
        )
        parts = mapping.candidate_parts(response)
        tool_calls = tuple(
            mapping.tool_call_from(part, position)
            for position, part in enumerate(p for p in parts if p.function_call)
        )
        reasoning = "".join(mapping.thought_text(part) for part in parts)
        return ChatResponse(
            text="".join(mapping.visible_text(part) for part in parts),
            reasoning=(ReasoningPart(text=reasoning),) if reasoning else (),
            tool_calls=tool_calls,
            finish_reason=mapping.finish_reason_from(
                mapping.raw_finish_reason(response), bool(tool_calls)
            ),
            usage=mapping.usage_from(response.usage_metadata),
            model=response.model_version or request.model,
            request_id=_request_id(response),
        )

    def _stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        chunks = self.client.models.generate_content_stream(
            model=request.model,
            contents=mapping.contents_from(request.messages),
            config=mapping.generate_config(request),
        )
        calls: list[ToolCall] = []
        usage_metadata: Any = None
        reason: str | None = None
        model, request_id = request.model, None
        received = False
        iterator = iter(chunks)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                break
            except _BROKEN_STREAM_ERRORS as exc:
                if not received:
                    raise
                raise StreamInterruptedError(
                    "The Gemini stream broke off before the answer was complete.",
                    provider=self.settings.slug,
                    request_id=request_id,
                ) from exc
            received = True
            model = chunk.model_version or model
            request_id = request_id or _request_id(chunk)
            usage_metadata = chunk.usage_metadata or usage_metadata
            reason = mapping.raw_finish_reason(chunk) or reason
            for part in mapping.candidate_parts(chunk):
                if part.function_call:
                    call = mapping.tool_call_from(part, len(calls))
                    calls.append(call)
                    yield ToolCallDelta(
                        index=len(calls) - 1, id=call.id, name=call.name, arguments=call.arguments
                    )
                elif thought := mapping.thought_text(part):
                    yield ReasoningDelta(text=thought)
                elif text := mapping.visible_text(part):
                    yield TextDelta(text)
        if reason is None:
            raise StreamInterruptedError(
                "The Gemini stream ended without a finish reason.",
                provider=self.settings.slug,
                request_id=request_id,
            )
        yield UsageEvent(mapping.usage_from(usage_metadata))
        yield Finish(
            finish_reason=mapping.finish_reason_from(reason, bool(calls)),
            model=model,
            request_id=request_id,
        )

    # -- embeddings and models ---------------------------------------------------------------
    def _embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        # One Content per input: given bare strings, the SDK merges them into ONE content (one
        # vector) for multimodal embedding models such as gemini-embedding-2.
        contents = [types.Content(role="user", parts=[types.Part(text=t)]) for t in request.inputs]
        response = self.client.models.embed_content(
            model=request.model,
            contents=contents,  # type: ignore[arg-type]
            config=types.EmbedContentConfig(output_dimensionality=request.dimensions),
        )
        embeddings = response.embeddings or []
        if len(embeddings) != len(request.inputs):
            raise MalformedResponseError(
                f"Gemini returned {len(embeddings)} embeddings for {len(request.inputs)} inputs.",
                provider=self.settings.slug,
            )
        return EmbeddingResponse(
            vectors=tuple(tuple(e.values or ()) for e in embeddings),
            usage=self.embedding_usage(response),
            model=request.model,
            request_id=_header(response.sdk_http_response, "x-request-id"),
        )

    def embedding_usage(self, response: types.EmbedContentResponse) -> Usage:
        return mapping.usage_from(response.usage_metadata)

    def _list_models(self) -> list[RemoteModel]:
        return [
            _remote_model(model)
            for model in self.client.models.list(config=types.ListModelsConfig(page_size=1000))
        ]

    # -- errors ------------------------------------------------------------------------------
    def translate_error(self, exc: Exception) -> ProviderError | None:
        return self._translate(exc)

    def _translate(self, exc: Exception) -> ProviderError | None:
        slug = self.settings.slug
        if isinstance(exc, genai_errors.APIError):
            return self._api_error(exc)
        if isinstance(exc, _TIMEOUT_ERRORS):
            return ProviderTimeoutError(
                f"Gemini did not answer within {self.settings.timeout:g}s.", provider=slug
            )
        if isinstance(exc, _CONNECT_ERRORS):
            return ProviderUnavailableError(
                self.scrub(f"Could not connect to Gemini: {exc}"), provider=slug
            )
        if isinstance(exc, _TRANSPORT_ERRORS):
            return ProviderUnavailableError(
                self.scrub(f"The connection to Gemini failed: {type(exc).__name__}: {exc}"),
                provider=slug,
            )
        if isinstance(exc, _MALFORMED_ERRORS):
            return MalformedResponseError(
                "Gemini answered with something that is not a valid response.", provider=slug
            )
        return None

    def _api_error(self, exc: genai_errors.APIError) -> ProviderError:
        code = exc.code if isinstance(exc.code, int) else 0
        status = exc.status or ""
        details = _error_details(exc.details)
        reasons = {d.get("reason") for d in details if d.get("@type") == _RPC + "ErrorInfo"}
        headers = getattr(getattr(exc, "response", None), "headers", None)
        kind: type[ProviderError]
        if "API_KEY_INVALID" in reasons or code == 401 or status == "UNAUTHENTICATED":
            kind = ProviderAuthenticationError
        elif code == 403 or status == "PERMISSION_DENIED":
            kind = ProviderPermissionError
        elif code == 404 or status == "NOT_FOUND":
            kind = ModelNotFoundError
        elif code == 429 or status == "RESOURCE_EXHAUSTED":
            kind = RateLimitedError
        elif code == 408 or status == "DEADLINE_EXCEEDED":
            kind = ProviderTimeoutError
        elif code == 413:
            kind = ContextLengthExceededError
        elif 400 <= code < 500:
            kind = ProviderBadRequestError
        elif code >= 500:
            kind = ProviderUnavailableError
        else:
            kind = ProviderError
        retry_after = None
        if kind is RateLimitedError:
            retry_after = retry_after_seconds(headers)
            if retry_after is None:
                retry_after = _retry_delay(details)
        message = (
            f"Gemini answered {code} {status}".rstrip() + f": {exc.message or kind.default_message}"
        )
        return kind(
            self.scrub(message),
            provider=self.settings.slug,
            status_code=code or None,
            retry_after=retry_after,
            request_id=_header(headers, "x-request-id"),
        )


def _remote_model(model: types.Model) -> RemoteModel:
    actions = set(model.supported_actions or ())
    kind: Literal["chat", "embedding", "unknown"] = "unknown"
    if "embedContent" in actions or "batchEmbedContents" in actions:
        kind = "embedding"
    elif "generateContent" in actions:
        kind = "chat"
    return RemoteModel(
        id=(model.name or "").removeprefix("models/"),
        display_name=model.display_name or "",
        kind=kind,
        context_window=model.input_token_limit,
        max_output_tokens=model.output_token_limit,
    )


def _request_id(response: types.GenerateContentResponse) -> str | None:
    return response.response_id or _header(response.sdk_http_response, "x-request-id")


def _header(source: Any, name: str) -> str | None:
    headers = getattr(source, "headers", source)
    if not headers:
        return None
    value = headers.get(name)
    return str(value) if value else None


def _error_details(body: Any) -> list[dict[str, Any]]:
    """The google.rpc detail objects of an error body ({"error": {"details": [...]}})."""
    if not isinstance(body, dict):
        return []
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details or [] if isinstance(d, dict)]


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    """Seconds from a google.rpc.RetryInfo retryDelay ("12s", "1.5s")."""
    for detail in details:
        if detail.get("@type") != _RPC + "RetryInfo":
            continue
        delay = detail.get("retryDelay")
        try:
            return max(0.0, float(str(delay).removesuffix("s")))
        except ValueError:
            return None
    return None
