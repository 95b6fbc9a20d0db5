"""HTTP helpers shared by the chat APIs: the body size limit, JSON bodies and server-sent event
bodies."""

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, StreamingHttpResponse
from rest_framework.request import Request

from config.errors import ApplicationError
from config.outages import unavailable, unavailable_errors

logger = logging.getLogger(__name__)


class StreamInternalError(ApplicationError):
    code = "internal_error"
    http_status = 500
    default_message = "An internal error occurred; it has been logged."


def stream_error(error: Exception) -> ApplicationError:
    """What a stream tells its client about an error raised after the headers went out."""
    if isinstance(error, ApplicationError):
        return error
    if isinstance(error, unavailable_errors()):
        return unavailable(error)
    logger.error("Unexpected error in a streamed response", exc_info=error)
    return StreamInternalError()


def body_size_check(request: Request) -> None:
    """Refuse bodies over DATA_UPLOAD_MAX_MEMORY_SIZE before parsing them (413).

    DRF reads the body stream itself and so skips Django's own check of this setting."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")


def json_bytes(data: Any) -> bytes:
    """Compact JSON in UTF-8, as DRF renders it. orjson runs several times faster than json
    (an embedding is a long list of floats, a stream one object per token); json takes what
    orjson refuses (a lone surrogate relayed from a provider, an integer beyond 64 bits)."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()


def json_response(data: Any, headers: Mapping[str, str] | None = None) -> HttpResponse:
    """A 200 JSON answer of the call endpoints, without DRF's negotiation and renderer (the
    views' errors still go through DRF's exception handler and renderer)."""
    return HttpResponse(json_bytes(data), content_type="application/json", headers=headers)


def sse_event(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; `data` is JSON-encoded unless it is already text."""
    payload = data.encode() if isinstance(data, str) else json_bytes(data)
    prefix = f"event: {event}\n".encode() if event else b""
    return b"%bdata: %b\n\n" % (prefix, payload)


class SSEBody:
    """A streaming body that always runs `on_close`, even if the server never iterates it
    (a generator's `finally` would not run then), so an abandoned stream is still recorded."""

    def __init__(self, chunks: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._chunks = chunks
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self._on_close()


def sse_response(body: SSEBody, headers: dict[str, str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through as they come
    for name, value in headers.items():
        response[name] = value
    return response


def cache_bypass_requested(headers: Mapping[str, str]) -> bool:
    """Whether request headers ask to skip the cache: `x-cache-bypass: 1` (or true), or
    `Cache-Control: no-cache` / `no-store`."""
    bypass = (headers.get("x-cache-bypass") or "").strip().lower()
    control = (headers.get("cache-control") or "").lower()
    return bypass in ("1", "true", "yes") or "no-cache" in control or "no-store" in control


def cache_headers(status: str) -> dict[str, str]:
    """The `x-cache` response header (none when the service caches nothing)."""
    return {"x-cache": status} if status else {}
