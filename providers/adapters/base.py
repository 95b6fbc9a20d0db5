"""The adapter ABC: public methods validate and translate errors; subclasses speak the wire.

A subclass implements `build_client` (an authenticated SDK client, built once per settings
version and reused for its connection pool, on the HTTP client `http_client()` gives it), the
`_complete`/`_stream`/`_embed`/`_list_models` operations, its wire `mapping` (a *_mapping
module, see adapters.wire) and its `errors` table (SDK exception class -> ProviderError class).

What every adapter shares lives here: the HTTP client whose connections pass the egress
policy (adapters.egress), error translation (the table looked up along the exception's MRO,
narrowed and filled in by the mapping), and scrubbing (adapters.scrubbing) of the translated
message and of every chained SDK exception, so no adapter can forget any of them.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

from providers.adapters.egress import DestinationRefused, guarded_http_client
from providers.adapters.errors import (
    InvalidRequestError,
    ProviderDestinationRefusedError,
    ProviderError,
    ProviderKeyUnboundError,
    UnsupportedOperationError,
)
from providers.adapters.params import params_check
from providers.adapters.scrubbing import SecretScrubber
from providers.adapters.types import (
    REASONING_EFFORTS,
    ROLES,
    ChatRequest,
    ChatResponse,
    CheckResult,
    EmbeddingRequest,
    EmbeddingResponse,
    ProviderSettings,
    RemoteModel,
    StreamEvent,
)
from providers.adapters.wire import ErrorTable, WireMapping, mapped_error_class
from providers.credentials import credential_secrets

T = TypeVar("T")


class ProviderAdapter(ABC):
    supports_embeddings: ClassVar[bool] = False
    # The provider counts a chat request's input tokens without running it (count_tokens).
    supports_token_count: ClassVar[bool] = False
    # The wire mapping module the adapter speaks, and its SDK exception table.
    mapping: ClassVar[WireMapping]
    errors: ClassVar[ErrorTable]

    def __init__(self, settings: ProviderSettings) -> None:
        if settings.credentials_unbound:
            raise ProviderKeyUnboundError(provider=settings.slug)
        self.settings = settings
        self.scrubber = SecretScrubber(
            (
                settings.api_key,
                *settings.extra_headers.values(),
                *credential_secrets(settings.kind, settings.credentials),
            )
        )
        self.client = self.build_client(settings)

    def http_client(self) -> Any:
        """The HTTP client every SDK client is built on: each connection it opens is checked
        against the egress policy on the address it connects to."""
        return guarded_http_client(
            allowed=self.settings.allowed_networks, timeout=self.settings.timeout
        )

    def close(self) -> None:
        """Release the SDK client's connections (adapters built for a one-off test)."""
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    # -- what a subclass provides -------------------------------------------------------
    @abstractmethod
    def build_client(self, settings: ProviderSettings) -> Any:
        """An authenticated SDK client with its own retries off (the runtime retries)."""

    @abstractmethod
    def _complete(self, request: ChatRequest) -> ChatResponse: ...

    @abstractmethod
    def _stream(self, request: ChatRequest) -> Iterator[StreamEvent]: ...

    def _embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        raise UnsupportedOperationError(
            f"{self.settings.kind} providers have no embeddings API.", provider=self.settings.slug
        )

    def _count_tokens(self, request: ChatRequest) -> int:
        raise UnsupportedOperationError(
            f"{self.settings.kind} providers cannot count tokens.", provider=self.settings.slug
        )

    @abstractmethod
    def _list_models(self) -> list[RemoteModel]: ...

    def translate_error(self, exc: BaseException) -> ProviderError | None:
        """The ProviderError for an SDK exception: the class of the most specific entry of the
        adapter's table along the exception's MRO, narrowed by the mapping's structured fields;
        None if the table has no entry (not a provider failure). Status, Retry-After and the
        request id are kept; the provider's text is scrubbed."""
        mapped = mapped_error_class(self.errors, exc)
        if mapped is None:
            return None
        error_class = self.mapping.error_class(exc, mapped)
        failure = self.mapping.error_fields(exc)
        where = f"HTTP {failure.status}: " if failure.status else ""
        return error_class(
            self.scrub(f"{error_class.default_message} ({where}{failure.detail})"),
            provider=self.settings.slug,
            status_code=failure.status,
            retry_after=failure.retry_after,
            request_id=failure.request_id,
            details={
                "provider": self.settings.slug,
                "upstream_status": failure.status,
                **failure.extra,
            },
        )

    # -- the public operations ----------------------------------------------------------
    def complete(self, request: ChatRequest) -> ChatResponse:
        validate_chat_request(request)
        params_check(request, kind=self.settings.kind, provider=self.settings.slug)
        return self._guarded(lambda: self._complete(request))

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        """Stream events; errors raised mid-stream are translated too."""
        validate_chat_request(request)
        params_check(request, kind=self.settings.kind, provider=self.settings.slug)
        iterator = self._guarded(lambda: iter(self._stream(request)))
        while True:
            try:
                event = next(iterator)
            except StopIteration:
                return
            except ProviderError as exc:
                raise self._scrubbed(exc) from exc.__cause__
            except Exception as exc:
                raise self._translated(exc) from exc
            yield event

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        if not request.inputs:
            raise InvalidRequestError("Embeddings need at least one input.")
        if any(not isinstance(text, str) for text in request.inputs):
            raise InvalidRequestError("Every embedding input must be a string.")
        return self._guarded(lambda: self._embed(request))

    def list_models(self) -> list[RemoteModel]:
        return self._guarded(self._list_models)

    def count_tokens(self, request: ChatRequest) -> int:
        """The input tokens the provider counts for `request` (no reply is generated)."""
        validate_chat_request(request)
        return self._guarded(lambda: self._count_tokens(request))

    def check(self) -> CheckResult:
        """A cheap authenticated call (listing models) for "test connection"."""
        started = time.perf_counter()
        try:
            models = self.list_models()
        except ProviderError as exc:
            return CheckResult(ok=False, latency_ms=_ms_since(started), message=exc.staff_summary())
        return CheckResult(ok=True, latency_ms=_ms_since(started), model_count=len(models))

    # -- helpers --------------------------------------------------------------------------
    def _guarded(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except ProviderError as exc:
            raise self._scrubbed(exc) from exc.__cause__
        except Exception as exc:
            raise self._translated(exc) from exc

    def _translated(self, exc: Exception) -> Exception:
        refused = _refusal_in_chain(exc)
        error = (
            ProviderDestinationRefusedError(str(refused), provider=self.settings.slug)
            if refused is not None
            else self.translate_error(exc)
        )
        self.scrubber.scrub_exception_chain(exc)
        if error is None:
            return exc
        return self._scrubbed(error)

    def _scrubbed(self, error: ProviderError) -> ProviderError:
        """An adapter's error, its message and whatever it chains, scrubbed of the secrets."""
        error.provider = error.provider or self.settings.slug
        error.message = self.scrub(error.message)
        error.args = (error.message,)
        self.scrubber.scrub_exception_chain(error.__cause__ or error.__context__)
        return error

    def scrub(self, text: str) -> str:
        """Remove this provider's secrets (whole, any 8-character run, base64 or URL-encoded)
        and anything credential-shaped from text meant for people; at most 1000 characters."""
        return self.scrubber.scrub(text)

    def scrub_exception(self, exc: BaseException) -> None:
        """Scrub an SDK exception and its chain in place before chaining it to a new error."""
        self.scrubber.scrub_exception_chain(exc)


def _refusal_in_chain(exc: BaseException) -> DestinationRefused | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DestinationRefused):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def validate_chat_request(request: ChatRequest) -> None:
    """Refuse what no provider would accept, before spending a network round trip."""
    if not request.model:
        raise InvalidRequestError("A model is required.")
    if not request.messages:
        raise InvalidRequestError("At least one message is required.")
    for index, message in enumerate(request.messages):
        if message.role not in ROLES:
            raise InvalidRequestError(
                f"messages[{index}].role {message.role!r} is not one of {', '.join(ROLES)}."
            )
        if message.role == "tool" and not message.tool_call_id:
            raise InvalidRequestError(f"messages[{index}] is a tool result without tool_call_id.")
    if request.temperature is not None and not 0 <= request.temperature <= 2:
        raise InvalidRequestError("temperature must be between 0 and 2.")
    if request.top_p is not None and not 0 <= request.top_p <= 1:
        raise InvalidRequestError("top_p must be between 0 and 1.")
    if request.max_tokens is not None and request.max_tokens < 1:
        raise InvalidRequestError("max_tokens must be at least 1.")
    for name in ("frequency_penalty", "presence_penalty"):
        value = getattr(request, name)
        if value is not None and not -2 <= value <= 2:
            raise InvalidRequestError(f"{name} must be between -2 and 2.", details={"param": name})
    if request.reasoning_effort is not None and request.reasoning_effort not in REASONING_EFFORTS:
        raise InvalidRequestError(
            f"reasoning_effort must be one of {', '.join(REASONING_EFFORTS)}.",
            details={"param": "reasoning_effort"},
        )
    if request.top_logprobs is not None and not (
        request.logprobs and 0 <= request.top_logprobs <= 20
    ):
        raise InvalidRequestError(
            "top_logprobs must be between 0 and 20 and needs logprobs=true.",
            details={"param": "top_logprobs"},
        )
    if request.tool_choice and request.tool_choice.mode == "tool":
        names = {tool.name for tool in request.tools}
        if request.tool_choice.name not in names:
            raise InvalidRequestError("tool_choice names a tool that is not in tools.")
