"""The adapter ABC: public methods validate and translate errors; subclasses speak the wire.

A subclass implements `build_client` (an authenticated SDK client, built once per settings
version and reused for its connection pool), the `_complete`/`_stream`/`_embed`/`_list_models`
operations, and `translate_error`, which maps an SDK exception to a ProviderError by its type.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

from config.logging import redact
from providers.adapters.errors import (
    InvalidRequestError,
    ProviderError,
    UnsupportedOperationError,
)
from providers.adapters.types import (
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

T = TypeVar("T")


class ProviderAdapter(ABC):
    supports_embeddings: ClassVar[bool] = False

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.client = self.build_client(settings)

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

    @abstractmethod
    def _list_models(self) -> list[RemoteModel]: ...

    @abstractmethod
    def translate_error(self, exc: Exception) -> ProviderError | None:
        """The ProviderError for an SDK exception, chosen by its type; None if not an SDK error."""

    # -- the public operations ----------------------------------------------------------
    def complete(self, request: ChatRequest) -> ChatResponse:
        validate_chat_request(request)
        return self._guarded(lambda: self._complete(request))

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        """Stream events; errors raised mid-stream are translated too."""
        validate_chat_request(request)
        iterator = self._guarded(lambda: iter(self._stream(request)))
        while True:
            try:
                event = next(iterator)
            except StopIteration:
                return
            except ProviderError:
                raise
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

    def check(self) -> CheckResult:
        """A cheap authenticated call (listing models) for "test connection"."""
        started = time.perf_counter()
        try:
            models = self.list_models()
        except ProviderError as exc:
            return CheckResult(
                ok=False, latency_ms=_ms_since(started), message=f"{exc.code}: {exc.message}"
            )
        return CheckResult(ok=True, latency_ms=_ms_since(started), model_count=len(models))

    # -- helpers --------------------------------------------------------------------------
    def _guarded(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except ProviderError:
            raise
        except Exception as exc:
            raise self._translated(exc) from exc

    def _translated(self, exc: Exception) -> Exception:
        error = self.translate_error(exc)
        if error is None:
            return exc
        error.provider = error.provider or self.settings.slug
        return error

    def scrub(self, text: str) -> str:
        """Remove this provider's key (and anything key-shaped) from text meant for people."""
        for secret in (self.settings.api_key, *self.settings.extra_headers.values()):
            if secret and len(secret) >= 6:
                text = text.replace(secret, "[REDACTED]")
        return redact(text)[:1000]


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
    if request.tool_choice and request.tool_choice.mode == "tool":
        names = {tool.name for tool in request.tools}
        if request.tool_choice.name not in names:
            raise InvalidRequestError("tool_choice names a tool that is not in tools.")
