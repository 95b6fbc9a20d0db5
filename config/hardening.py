"""The hardening layer at the edge of the APIs (`/api/`, `/v1/`, `/anthropic/`): hostile input
is a 4xx.

Two halves, both cheap and run before any view logic:
- `ApiEdgeMiddleware` (first in MIDDLEWARE) refuses what is wrong with the request itself: a
  Host this service does not answer for, NUL in the path, the query or a header, and reads
  chunked bodies (no Content-Length) up to the size limit, or answers 411 when the server
  cannot say where such a body ends.
- `json_value_check` (used by the DRF parsers below and by the playground) walks a decoded
  body once, without recursion, and refuses deep nesting, too many values, NUL bytes and
  unpaired surrogates in any string or key, and numbers that are not finite or exceed
  API_MAX_INTEGER; the refusal names the parameter (`messages[3].content`).

So no such input reaches the database (PostgreSQL refuses NUL, bigint overflows), the SDKs
(surrogates cannot be encoded, deep structures recurse) or a thread's CPU for long.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, SuspiciousOperation
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse
from rest_framework import parsers
from rest_framework.pagination import LimitOffsetPagination, _positive_int

from config.errors import (
    ApplicationError,
    InvalidHost,
    InvalidInput,
    LengthRequired,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    RequestTooComplex,
)

API_PREFIXES = ("/api/", "/v1/", "/anthropic/")
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")

Path = tuple[Any, Any] | None  # (parent path, key): built into "a.b[2]" only on refusal


def _param(path: Path, root: str) -> str:
    keys: list[Any] = []
    while path is not None:
        path, key = path
        keys.append(key)
    text = ""
    for key in reversed(keys):
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or root


def _printable(name: str) -> str:
    """A parameter name safe to echo: bad characters replaced, length bounded."""
    return _BAD_CHARACTER.sub("\ufffd", name)[:100]


def string_check(value: str, param: str) -> None:
    """Refuse NUL bytes and unpaired surrogates (PostgreSQL and UTF-8 cannot hold them)."""
    match = _BAD_CHARACTER.search(value)
    if match is None:
        return
    param = _printable(param)
    if match.group() == "\x00":
        message = f"{param} must not contain NUL characters."
    else:
        message = f"{param} must not contain unpaired surrogate characters."
    raise InvalidInput(message, details={"param": param})


def _number_check(value: int | float, path: Path, root: str) -> None:
    bound = settings.API_MAX_INTEGER
    if isinstance(value, float) and not math.isfinite(value):
        param = _printable(_param(path, root))
        raise InvalidInput(f"{param} must be a finite number.", details={"param": param})
    if abs(value) > bound:
        param = _printable(_param(path, root))
        raise InvalidInput(
            f"{param} must be between -{bound} and {bound}.", details={"param": param}
        )


def json_value_check(value: Any, root: str = "body") -> None:
    """Refuse a decoded JSON value no API should process (see the module docstring)."""
    max_depth = settings.API_MAX_JSON_DEPTH
    budget = settings.API_MAX_JSON_VALUES - 1
    stack: list[tuple[Any, Path, int]] = [(value, None, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if _BAD_CHARACTER.search(item):
                string_check(item, _param(path, root))
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                _too_deep(_param(path, root))
            budget -= len(item)  # counted before walking, so a huge list is refused at once
            if budget < 0:
                raise RequestTooComplex(
                    f"The body holds more than {settings.API_MAX_JSON_VALUES} values.",
                    details={"param": root},
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    if _BAD_CHARACTER.search(key):
                        string_check(key, _param((path, key), root))
                    stack.append((child, (path, key), depth + 1))
            else:
                stack.extend((child, (path, i), depth + 1) for i, child in enumerate(item))
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            _number_check(item, path, root)


def _too_deep(param: str) -> None:
    limit = settings.API_MAX_JSON_DEPTH
    raise RequestTooComplex(
        f"The body is nested more than {limit} levels deep.",
        details={"param": _printable(param)},
    )


def _refuse_constant(name: str) -> Any:
    raise MalformedRequest(f"{name} is not a JSON number.")


def json_loads_checked(raw: bytes | str, root: str = "body") -> Any:
    """Decode a JSON body and check it: the one JSON reader of both APIs."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedRequest("The request body is not valid UTF-8.") from None
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        _too_deep(root)
    except ValueError as exc:
        raise MalformedRequest(f"The request body is not valid JSON: {exc}") from None
    json_value_check(value, root)
    return value


# -- DRF parsers ----------------------------------------------------------------------------
class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the checks above (and NaN/Infinity refused)."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return json_loads_checked(stream.read() if stream is not None else b"")


def _query_dict_check(data: Any) -> None:
    for key, values in data.lists():
        string_check(key, "body")
        for value in values:
            if isinstance(value, str):
                string_check(value, key)


class FormParser(parsers.FormParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _query_dict_check(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        result = super().parse(stream, media_type, parser_context)
        _query_dict_check(result.data)
        return result


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`limit` capped at API_PAGINATION_MAX_LIMIT and `offset` at API_MAX_INTEGER, so no
    query value overflows the database's OFFSET/LIMIT."""

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return settings.API_PAGINATION_MAX_LIMIT

    def get_offset(self, request: Any) -> int:
        try:
            return _positive_int(
                request.query_params[self.offset_query_param],
                cutoff=settings.API_MAX_INTEGER,
            )
        except (KeyError, ValueError):
            return 0


# -- the middleware -------------------------------------------------------------------------
def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIXES)


def _host_check(request: HttpRequest) -> None:
    try:
        request.get_host()
    except DisallowedHost:
        raise InvalidHost() from None


def _query_check(request: HttpRequest) -> None:
    try:
        params = request.GET
    except SuspiciousOperation:  # too many fields
        raise RequestTooComplex("The query string has too many parameters.") from None
    for key, values in params.lists():
        string_check(key, "query")
        for value in values:
            string_check(value, key)


def _header_check(request: HttpRequest) -> None:
    for name, value in request.META.items():
        if name.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            header = name[5:].replace("_", "-").title()
            raise InvalidInput(
                f"The {header} header must not contain NUL characters.",
                details={"param": header},
            )


def _chunked_body_read(request: HttpRequest) -> None:
    """Read a body sent without Content-Length (Transfer-Encoding: chunked).

    Django reads such a body as empty. A server that de-chunks and marks the input as ending
    (`wsgi.input_terminated`, as gunicorn does) lets us read it up to the size limit and hand
    the views an ordinary body with a length; any other server gets a 411.
    """
    meta = request.META
    if "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    if meta.get("CONTENT_LENGTH"):
        return
    if not meta.get("wsgi.input_terminated"):
        raise LengthRequired()
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = meta["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge()
    request._stream = LimitedStream(io.BytesIO(body), len(body))  # type: ignore[assignment]
    request._read_started = False  # type: ignore[attr-defined]
    meta["CONTENT_LENGTH"] = str(len(body))


def api_request_check(request: HttpRequest) -> None:
    """Everything wrong with an API request itself, before any view runs."""
    _host_check(request)
    _query_check(request)
    _header_check(request)
    _chunked_body_read(request)


class ApiEdgeMiddleware:
    """First in MIDDLEWARE. NUL in any path is a 404 (HTML pages included, as nothing can be
    stored under such a name); the other refusals apply to the APIs (API_PREFIXES) and answer in
    the API's JSON error shape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Imported here: config.views imports DRF views, which import the parsers above.
        from config.views import api_error_response, not_found

        if "\x00" in request.path_info:
            if _is_api(request):
                return api_error_response(request, NotFound("No endpoint at this path."))
            return not_found(request)
        if _is_api(request):
            try:
                api_request_check(request)
            except ApplicationError as error:
                return api_error_response(request, error)
        return self.get_response(request)
