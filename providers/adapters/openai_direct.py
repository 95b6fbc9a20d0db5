"""The OpenAI adapter's direct path: chat completions, streams and embeddings sent as bytes
through our transport, with the head the `openai` SDK client itself would send.

Why: after the adapter stopped using the SDK's TypedDict transform and pydantic models, the
SDK's per-request machinery was the largest cost left on a call (options copied and prepared,
headers merged and validated, the URL parsed and merged, an httpx2 Request built, httpx2's
send with its auth, redirect and cookie steps, then urllib3 writing the head line by line):
about half of the adapter's CPU per call (benchmarks/test_adapter_path.py). For a client whose
head is a pure function of the client, none of that needs doing per call.

How: per (path, model) a `Shape` is derived once from the client itself (its own
`_prepare_options`, `_build_request` and `_prepare_request`, with the request options its
`post` would use): URL (Azure's deployment path and `api-version` among it), headers in
order (auth, default and extra headers, X-Stainless-*, retry count 0, read timeout, httpx2's
own), timeouts. Each call then writes that head, its Content-Length and body (orjson bytes) in
one piece through `ObservedTransport.send_direct` (request id header, tracing span) to
`GuardedURLLib3Transport.send` (egress policy, pool, TLS, exception translation: the same code
as every httpx2 request). Outcomes are the SDK's own: an error status raises what the client's
`_make_status_error_from_response` builds, a transport failure raises APITimeoutError or
APIConnectionError as the SDK's `request` does, so the adapters' error tables are unchanged.
A body with a Content-Encoding is read through httpx2's decoders.

When the SDK's own path is kept (`direct_path_refusal`): whenever a head may differ between
two calls of one client: a callable API key or an Entra token provider (renewed per request),
workload identity or a provider runtime (tokens exchanged or requests signed per request),
custom auth, an idempotency header, SDK retries (the retry count header), an httpx2 client
with auth, hooks, mounts, credentials in the URL or another transport than ours.

Differences, deliberate: the direct path keeps no cookies (httpx2's client would replay a
provider's Set-Cookie on later calls); floats written by orjson may differ in form from the
SDK's json (1e-07 as 1e-7), not in value.
"""

import threading
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import httpx2
import openai
import orjson
from openai._base_client import SyncAPIClient
from openai._compat import model_copy
from openai._files import to_httpx_files
from openai._httpx2 import request_exceptions, timeout_exceptions
from openai._models import FinalRequestOptions
from openai._utils._json import openapi_dumps

from config.http_client import ObservedTransport
from providers.adapters.http_wire import DirectRequest, header_lines, origin_of, request_line
from providers.adapters.transport import GuardedURLLib3Transport

# What the adapter's `post` calls pass as the request options.
REQUEST_OPTIONS: dict[str, Any] = {"security": {"bearer_auth": True}}
# Shapes kept per client: (path, model) pairs; Azure has one path per deployment.
MAX_SHAPES = 64
# Left out of a shape: the body's length is per call; cookies are not kept (see above).
_PER_CALL = frozenset({b"content-length", b"cookie"})
# The one request hook a client may carry: Azure's, which only acts on redirects.
_HARMLESS_HOOKS = {"_strip_azure_api_key_on_redirect"}


def direct_path_refusal(client: SyncAPIClient) -> str | None:
    """Why `client` must send each request through its own per-request machinery; None when
    its requests' heads are a pure function of the client, so one prepared head serves."""
    http = client._client
    transport = getattr(http, "_transport", None)
    if not (
        isinstance(transport, ObservedTransport)
        and isinstance(transport.inner, GuardedURLLib3Transport)
    ):
        return "the HTTP client's transport is not the guarded transport"
    if getattr(client, "_api_key_provider", None) is not None:
        return "the API key is a callable, called for every request"
    if getattr(client, "_azure_ad_token_provider", None) is not None:
        return "the Entra ID token provider is asked for a token for every request"
    if getattr(client, "workload_identity", None) is not None:
        return "workload identity tokens are exchanged per request"
    if getattr(client, "_provider_runtime", None) is not None:
        return "a provider runtime transforms or signs every request"
    if client._custom_auth(REQUEST_OPTIONS["security"]) is not None:
        return "the client authenticates every request itself"
    if client._idempotency_header:
        return "every request carries a new idempotency key"
    if client.max_retries != 0:
        return "the SDK retries (the retry count header varies)"
    if http.auth is not None or http.event_hooks["response"]:
        return "the HTTP client has auth or response hooks"
    if any(h.__name__ not in _HARMLESS_HOOKS for h in http.event_hooks["request"]):
        return "the HTTP client has request hooks"
    if http._mounts or client.base_url.userinfo:
        return "the HTTP client mounts other transports or the URL carries credentials"
    return None


class Shape:
    """What the client sends for one (path, model), but the body: derived from the client."""

    __slots__ = ("head", "headers", "names", "origin", "timeouts", "url")

    def __init__(self, client: SyncAPIClient, path: str, model: Any) -> None:
        # As the client's `post` and `request` build a request, without sending it.
        options = FinalRequestOptions.construct(
            method="post",
            url=path,
            json_data={"model": model},
            content=None,
            files=to_httpx_files(None),
            **REQUEST_OPTIONS,
        )
        options = client._prepare_options(model_copy(options))
        request = client._build_request(options, retries_taken=0)
        client._prepare_request(request)
        self.url = request.url
        self.origin = origin_of(request.url)
        self.headers = [(k, v) for k, v in request.headers.raw if k.lower() not in _PER_CALL]
        self.head = request_line("POST", request.url.raw_path) + header_lines(self.headers)
        self.names = frozenset(k.decode("latin-1").lower() for k, _ in self.headers)
        self.timeouts = dict(request.extensions.get("timeout") or {})

    def httpx_request(self, sent: DirectRequest) -> httpx2.Request:
        """The request as httpx2 would have made it, for the SDK's exceptions."""
        headers = [*self.headers, *sent.headers.added]
        request = httpx2.Request("POST", self.url, headers=headers, content=sent.body)
        request.extensions["timeout"] = self.timeouts
        return request


def dumps(body: dict[str, Any]) -> bytes:
    """The body as the SDK would serialise it (compact, UTF-8), with orjson's speed; what
    orjson refuses (integers beyond 64 bits...) goes through the SDK's own encoder."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return openapi_dumps(body)


class DirectPoster:
    """Sends the adapter's POSTs with prepared heads (module docstring); one per SDK client."""

    def __init__(self, client: SyncAPIClient) -> None:
        self.client = client
        self.transport = cast(ObservedTransport, client._client._transport)
        self.shapes: dict[tuple[str, Any], Shape] = {}
        self.lock = threading.Lock()

    def shape(self, path: str, model: Any) -> Shape:
        shape = self.shapes.get((path, model))
        if shape is None:
            shape = Shape(self.client, path, model)
            with self.lock:  # threads share adapters; the oldest shape makes room
                if len(self.shapes) >= MAX_SHAPES:
                    del self.shapes[next(iter(self.shapes))]
                self.shapes[(path, model)] = shape
        return shape

    def post(self, path: str, body: dict[str, Any], *, stream: bool) -> Any:
        """The raw answer (`.headers`, `.content` unless `stream`, `.iter_bytes()`,
        `.close()`, `.request`): a RawResponse, or an httpx2.Response when the body is
        encoded. Raises as the SDK client's `post` would."""
        shape = self.shape(path, body.get("model"))
        sent = DirectRequest(
            origin=shape.origin,
            method="POST",
            url=shape.url,
            head=shape.head,
            names=shape.names,
            body=dumps(body),
            timeouts=shape.timeouts,
        )
        make_request: Callable[[], httpx2.Request] = partial(shape.httpx_request, sent)
        response: Any = None
        try:
            response = raw = self.transport.send_direct(sent)
            raw.make_request = make_request
            if raw.headers.get("content-encoding"):
                response = raw.as_httpx(make_request())
            if not stream:  # read in the send, as httpx2's client does
                response.read()
        except timeout_exceptions() as err:
            raise openai.APITimeoutError(request=make_request()) from err
        except openai.OpenAIError:
            raise
        except request_exceptions() as err:
            raise openai.APIConnectionError(request=make_request()) from err
        if 200 <= response.status_code < 300:
            return response
        # As the SDK's `request` answers an error status (a stream's body is read now).
        if response is raw:
            response = raw.as_httpx(make_request())
        if not response.is_closed:
            response.read()
        raise self.client._make_status_error_from_response(response) from None
