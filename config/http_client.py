"""The HTTP transport under every provider SDK client: our request id out, a span when traced.

providers/adapters/egress.py wraps its guarded transport in this one. OpenAI (and
OpenAI-compatible servers that log it) accept `X-Client-Request-Id`: sending the
id of the request (or Celery task) on whose behalf a call is made lets a provider's support
find the call from our ledger's request id. When tracing is on (config/tracing.py), each HTTP
request to a provider gets a CLIENT span (method, host, status; never the query string), from
sending to the response's headers, and the W3C `traceparent` header so an instrumented
OpenAI-compatible server in the same trace joins it.

A transport wrapper rather than event hooks: it sees failures (a refused connection, a timeout)
too, and ends its span on them.
"""

from collections.abc import Callable
from typing import Any

import httpx2

from config.request_context import current_request_id

CLIENT_REQUEST_ID_HEADER = "X-Client-Request-Id"

# Set by config.tracing when traces are on: (request) -> context manager yielding a span.
span_factory: Any = None


class ObservedTransport(httpx2.BaseTransport):
    """Delegates to an HTTP transport, adding the request id header and an optional span."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self._observed(request, self.inner.handle_request)

    def send_direct(self, request: Any) -> Any:
        """The same for a request prepared as bytes (the OpenAI adapter's direct path, see
        providers/adapters/openai_direct.py), sent by the inner transport's `send_direct`.
        Such a request offers what is used here: `method`, `url`, and `headers` that answer
        `in` and take item assignment."""
        return self._observed(request, self.inner.send_direct)  # type: ignore[attr-defined]

    def _observed(self, request: Any, send: Callable[[Any], Any]) -> Any:
        request_id = current_request_id()
        if request_id and CLIENT_REQUEST_ID_HEADER not in request.headers:
            request.headers[CLIENT_REQUEST_ID_HEADER] = request_id
        if span_factory is None:
            return send(request)
        with span_factory(request) as span:
            response = send(request)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    def close(self) -> None:
        self.inner.close()
