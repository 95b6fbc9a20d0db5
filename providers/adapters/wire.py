"""What every wire mapping module exposes, and the error-table lookup the adapter base uses.

openai_mapping, anthropic_mapping and gemini_mapping each provide the functions of
`WireMapping` under the same names and signatures, so an adapter reads the same way whatever
wire it speaks, and error translation has one shape: the adapter's table (SDK exception class
-> ProviderError class, looked up along the raised exception's MRO so the most specific entry
wins), then the mapping's `error_class` to narrow by structured fields (a 400 whose code says
the context is too long), then the mapping's `error_fields` for status, message, Retry-After
and request id. Nothing here imports an SDK.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from providers.adapters.errors import ProviderError
from providers.adapters.types import ChatRequest, ChatResponse, FinishReason, Usage

ErrorTable = Mapping[type[BaseException], type[ProviderError]]


@dataclass(frozen=True, slots=True)
class UpstreamFailure:
    """What an SDK exception says about a failure; `detail` is the provider's own text (it is
    scrubbed before it is kept), `extra` more details for staff beside provider and status."""

    detail: str
    status: int | None = None
    retry_after: float | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class WireMapping(Protocol):
    """The functions each *_mapping module defines (checked by mypy and by a test)."""

    @property
    def ERRORS(self) -> ErrorTable: ...  # a module constant

    def request_params(self, request: ChatRequest, *, kind: str) -> dict[str, Any]: ...

    def response_from_wire(self, raw: Any, *, request_id: str | None = None) -> ChatResponse:
        """`request_id`: the provider's id when the adapter read it off the HTTP response."""
        ...

    def usage_from_wire(self, raw: Any) -> Usage: ...

    def finish_reason_from_wire(
        self, value: str | None, *, tool_calls: bool = False
    ) -> FinishReason: ...

    def error_class(
        self, exc: BaseException, mapped: type[ProviderError]
    ) -> type[ProviderError]: ...

    def error_fields(self, exc: BaseException) -> UpstreamFailure: ...


def mapped_error_class(table: ErrorTable, exc: BaseException) -> type[ProviderError] | None:
    """The table's entry for the most specific class in the exception's MRO, or None."""
    for klass in type(exc).__mro__:
        error_class = table.get(klass)
        if error_class is not None:
            return error_class
    return None


def describe(exc: BaseException) -> str:
    """`Type: text` of an exception that carries no provider answer (transport, parsing)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def header(headers: Any, name: str) -> str | None:
    """A response header, or None when there are no headers or no such header."""
    if not headers:
        return None
    value = headers.get(name)
    return str(value) if value else None
