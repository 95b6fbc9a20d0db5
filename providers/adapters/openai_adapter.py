"""The OpenAI adapter: serves kinds `openai` and `openai_compatible` (Ollama, vLLM, Groq,
Mistral, Together, OpenRouter...) through the official `openai` SDK and chat completions.

- One `openai.OpenAI` client per ProviderSettings, with the SDK's own retries off: the call
  runtime decides about retries and fallbacks. Organization, project and base URL come only
  from the settings, never from OPENAI_* environment variables the SDK would otherwise read.
- Keyless OpenAI-compatible servers get a placeholder key (the SDK refuses to build without
  one; such servers ignore the Authorization header).
- `max_tokens` is sent as `max_completion_tokens` to OpenAI (the SDK marks `max_tokens`
  deprecated and reasoning models refuse it) and as `max_tokens` to compatible servers.
- Streams ask for `stream_options.include_usage`; the usage chunk arrives after the finish
  reason, so Finish is yielded last. A server that ignores the option yields no UsageEvent.
- Chat and embeddings are plain dict bodies that come back as the raw HTTP response: the
  SDK's TypedDict transform and pydantic models are skipped (they were most of the adapter's
  CPU); openai_mapping reads the JSON and the SSE lines. They are sent by the direct path
  (adapters.openai_direct: the head the SDK client would send, derived from the client once
  per path and model, written with the body straight to our transport) unless the client's
  heads can change between calls (an Entra token provider, a callable key...:
  `direct_path_refusal`); then by the SDK client's low-level `post`. Either way the client
  is the source of auth, base URL, headers, timeouts and Azure's deployment paths, and its
  exception classes are raised. After a stream's [DONE] the end of the body is read (briefly
  bounded) so the connection is reused.
- Usage buckets: see openai_mapping (OpenAI counts cached tokens inside prompt_tokens and
  reasoning tokens inside completion_tokens; the mapping subtracts them).
- Errors are translated by the base class from openai_mapping.ERRORS (by SDK exception type,
  narrowed by the structured error `code` for context length), keeping status, Retry-After
  and x-request-id. Transport errors raised while a
  stream is being read become StreamInterruptedError: part of the answer may already be out.
"""

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx2
import openai

from providers.adapters import openai_mapping as mapping
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import MalformedResponseError, StreamInterruptedError
from providers.adapters.openai_direct import DirectPoster, direct_path_refusal
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Finish,
    FinishReason,
    ProviderSettings,
    RemoteModel,
    StreamEvent,
)
from providers.adapters.wire import ErrorTable, WireMapping

OPENAI_BASE_URL = "https://api.openai.com/v1"
KEYLESS_PLACEHOLDER = "no-key-configured"


class OpenAIAdapter(ProviderAdapter):
    supports_embeddings = True
    mapping: ClassVar[WireMapping] = mapping
    errors: ClassVar[ErrorTable] = mapping.ERRORS

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        # None when the client's requests must each go through the SDK (openai_direct).
        self.direct: DirectPoster | None = (
            None if direct_path_refusal(self.client) else DirectPoster(self.client)
        )

    def build_client(self, settings: ProviderSettings) -> openai.OpenAI:
        client = openai.OpenAI(
            http_client=self.http_client(),
            api_key=settings.api_key or KEYLESS_PLACEHOLDER,
            base_url=settings.base_url or OPENAI_BASE_URL,
            organization=settings.organization or None,
            project=settings.project or None,
            default_headers=dict(settings.extra_headers) or None,
            timeout=settings.timeout,
            max_retries=0,
        )
        # The SDK fills organization/project from the environment when given None.
        client.organization = settings.organization or None
        client.project = settings.project or None
        return client

    # -- chat ------------------------------------------------------------------------------
    def _params(self, request: ChatRequest) -> dict[str, Any]:
        return mapping.request_params(request, kind=self.settings.kind)

    def _complete(self, request: ChatRequest) -> ChatResponse:
        response = self._post("/chat/completions", self._params(request), stream=False)
        return mapping.response_from_wire(
            mapping.loads(response.content), request_id=response.headers.get("x-request-id")
        )

    def _stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        body = self._params(request)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        response = self._post("/chat/completions", body, stream=True)
        try:  # releases the connection if the consumer stops early
            yield from self._stream_events(response, response.headers.get("x-request-id"))
        finally:
            response.close()

    def _post(self, path: str, body: dict[str, Any], *, stream: bool) -> Any:
        """POST a plain JSON body as the SDK client would (its auth, base URL, headers,
        timeout, Azure deployment paths, and its exception for an error status) and return
        the raw HTTP response (`headers`, `content`, `iter_bytes`, `close`, `request`): the
        mapping reads the JSON itself. A stream comes back unread."""
        if self.direct is not None:
            return self.direct.post(path, body, stream=stream)
        return self.client.post(
            path,
            body=body,
            cast_to=httpx2.Response,
            options={"security": {"bearer_auth": True}},
            stream=stream,
        )

    def _stream_events(self, response: Any, request_id: str | None) -> Iterator[StreamEvent]:
        model = ""
        finish: FinishReason | None = None
        chunks = 0
        done = False
        # Kept in a name: dropping the decoder at [DONE] would close the body before its end.
        messages = mapping.sse_data(_sdk_errors(response))
        try:
            for data in messages:
                if data.startswith(b"[DONE]"):
                    done = True
                    break
                chunk = mapping.loads(data)
                if isinstance(chunk, dict) and chunk.get("error"):
                    raise _stream_error(chunk["error"], response)
                events, reason, chunk_model = mapping.chunk_events(chunk)
                chunks += 1
                model = model or chunk_model
                if reason:
                    finish = mapping.finish_reason_from_wire(reason)
                yield from events
        except (openai.APIConnectionError, httpx2.TransportError, openai.APIError) as exc:
            self.scrub_exception(exc)
            detail = self.scrub(mapping.error_detail(exc))
            raise StreamInterruptedError(
                f"{StreamInterruptedError.default_message} ({detail})",
                provider=self.settings.slug,
                request_id=request_id,
            ) from exc
        if done:
            _drain(response, messages)
        if chunks == 0:
            raise MalformedResponseError(
                "The provider answered a streamed request with no chunks.",
                provider=self.settings.slug,
                request_id=request_id,
            )
        if finish is None:
            raise StreamInterruptedError(
                "The provider's stream ended without a finish reason.",
                provider=self.settings.slug,
                request_id=request_id,
            )
        yield Finish(finish_reason=finish, model=model, request_id=request_id)

    # -- embeddings and models ---------------------------------------------------------------
    def _embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        # "float" said explicitly: the mapping reads vectors as numbers, never base64.
        body: dict[str, Any] = {
            "input": list(request.inputs),
            "model": request.model,
            "encoding_format": "float",
        }
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        response = self._post("/embeddings", body, stream=False)
        return mapping.embeddings_from_wire(
            mapping.loads(response.content),
            inputs=len(request.inputs),
            model=request.model,
            request_id=response.headers.get("x-request-id"),
            provider=self.settings.slug,
        )

    def _list_models(self) -> list[RemoteModel]:
        return [mapping.remote_model(model) for model in self.client.models.list()]


def _sdk_errors(response: Any) -> Iterator[bytes]:
    """The stream's bytes, with transport failures raised as the SDK's own stream raises
    them (APITimeoutError, APIConnectionError), so errors keep their SDK types."""
    try:
        yield from response.iter_bytes()
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except httpx2.RequestError as exc:
        raise openai.APIConnectionError(request=response.request) from exc


def _stream_error(error: Any, response: Any) -> openai.APIError:
    """The SDK's APIError for an error object sent inside a stream, as its Stream builds it."""
    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return openai.APIError(message=message, request=response.request, body=error)


# After [DONE], how long the end of the body may take to arrive (the SDK's async streams
# allow the same): a server that keeps the body open loses its connection instead.
_DRAIN_SECONDS = 0.1


def _drain(response: Any, rest: Iterator[bytes]) -> None:
    """Read the body's end after [DONE] so that an HTTP/1.1 connection goes back to the pool
    (closing a response before its end closes the connection, and the next call would open
    a new one: a TCP and TLS handshake, the egress check). Each read waits at most until
    the deadline; HTTP/2 streams need no draining and share their socket, so are left."""
    if response.http_version != "HTTP/1.1":
        return
    stream = response.extensions.get("network_stream")
    read = getattr(stream, "read", None)
    if read is None:
        return
    deadline = time.monotonic() + _DRAIN_SECONDS

    def bounded_read(max_bytes: int, timeout: float | None = None) -> bytes:
        return read(max_bytes, max(deadline - time.monotonic(), 0.001))

    stream.read = bounded_read
    try:
        for _ in rest:
            if time.monotonic() > deadline:
                break
    except (httpx2.HTTPError, openai.APIError):
        pass  # the answer is complete; only the connection is lost
    finally:
        del stream.read
