"""Hostile input for the fuzzers: the classes that once answered 5xx (issue 9, "500s").

Deep nesting, NUL bytes, unpaired surrogates, huge and non-finite numbers and huge pagination
values, as hypothesis strategies. Some of them cannot be produced by `json.dumps` (nesting
deeper than its recursion limit, `1e999`, `NaN`, a 5,000-digit integer), so a body is written
with `dumps()`, which splices `Raw` JSON text in where a strategy placed it.
"""

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode


class Raw:
    """JSON text to put into a body verbatim."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


def dumps(value: Any) -> str:
    """json.dumps, with each Raw value spliced in as written."""
    fragments: list[str] = []

    def default(obj: Any) -> str:
        if isinstance(obj, Raw):
            fragments.append(obj.text)
            return f"@@raw{len(fragments) - 1}@@"
        raise TypeError(type(obj).__name__)

    text = json.dumps(value, default=default)
    for index, fragment in enumerate(fragments):
        text = text.replace(f'"@@raw{index}@@"', fragment, 1)
    return text


def deep(depth: int, kind: str) -> str:
    if kind == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


deep_json = st.builds(
    lambda depth, kind: Raw(deep(depth, kind)),
    st.sampled_from([33, 200, 999, 1001, 5000, 100_000]),
    st.sampled_from(["[", "{"]),
)
odd_numbers = st.sampled_from(
    [
        "1e20",
        "1e999",
        "-1e999",
        "NaN",
        "Infinity",
        "-Infinity",
        "1" * 30,
        "-" + "9" * 30,
        "1" * 5000,
    ]
).map(Raw)
bad_characters = st.sampled_from(["\x00", "\ud800", "\udfff", "a\x00b", "ok\udc80"])
hostile_text = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(max_size=5),
    bad_characters,
    st.text(max_size=5),
)
huge_integers = st.one_of(
    st.integers(min_value=2**31, max_value=2**80),
    st.integers(min_value=-(2**80), max_value=-(2**31)),
)
hostile_values = st.one_of(
    deep_json,
    odd_numbers,
    hostile_text,
    huge_integers,
    st.floats(min_value=1e20, max_value=1e300),
    st.dictionaries(hostile_text, st.just(1), min_size=1, max_size=2),
    st.lists(hostile_text, min_size=1, max_size=2),
)

# Query strings, already percent-encoded: NUL, a surrogate's (invalid) UTF-8, huge numbers.
hostile_query_values = st.sampled_from(
    ["%00", "a%00b", "%ED%A0%80", "9" * 40, "-" + "9" * 30, "1e999", "NaN", "18446744073709551616"]
)
hostile_query_names = st.sampled_from(["limit", "offset", "limit", "%00", "a%00"])
hostile_path_segments = st.sampled_from(["%00", "a%00b", "%ED%A0%80", "9" * 40, "-1", "%2500"])


@st.composite
def hostile_queries(draw: Any, names: tuple[str, ...] = ()) -> str:
    """A query string with one to three hostile parameters (huge `limit`/`offset`, NUL...)."""
    pool = st.one_of(hostile_query_names, st.sampled_from(names)) if names else hostile_query_names
    pairs = draw(st.lists(st.tuples(pool, hostile_query_values), min_size=1, max_size=3))
    return "&".join(f"{name}={value}" for name, value in pairs)


@st.composite
def with_hostile_field(draw: Any, body: Any) -> Any:
    """`body` (a JSON object) with one field, new or existing, replaced by a hostile value, or
    the whole body replaced by deep nesting."""
    if not isinstance(body, dict) or draw(st.integers(0, 5)) == 0:
        return draw(deep_json)
    names = [*body, "extra"] if body else ["extra"]
    changed = dict(body)
    changed[draw(st.sampled_from(names))] = draw(hostile_values)
    return changed


HOSTILE_PARTS = ("query", "path", "body")


def hostile_request(
    client: Any,
    case: Any,
    *,
    part: str,
    query: str,
    segment: str,
    body: Any,
    headers: dict[str, str],
) -> Any:
    """Send a schemathesis `case` through Django's test client with one part made hostile:
    the query (`query`, appended), the first path parameter (`segment`, already
    percent-encoded) or the JSON body (`body`, written with `dumps`)."""
    from urllib.parse import quote, urlencode

    from schemathesis.core import NOT_SET

    params = {
        name: quote(str(value), safe="") for name, value in (case.path_parameters or {}).items()
    }
    if part == "path" and params:
        params[next(iter(params))] = segment
    path = case.path.format(**params)
    query_string = urlencode(case.query or {}, doseq=True)
    if part == "query":
        query_string = f"{query_string}&{query}" if query_string else query
    data = case.body
    if part == "body":
        data = body
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return client.generic(
        case.method.upper(),
        path,
        data="" if data is NOT_SET else dumps(data),
        content_type="application/json",
        QUERY_STRING=query_string,
        **extra,
    )


def assert_refused_in_shape(response: Any, *, part: str, body_read: bool) -> None:
    """No 5xx; every error in the project's one shape; a hostile body read is a 4xx."""
    text = response.content.decode("utf-8", "replace")
    assert response.status_code < 500, (part, text[:500])
    if part == "body" and body_read:
        assert 400 <= response.status_code < 500, (part, response.status_code, text[:300])
    if response.status_code >= 400:
        error = json.loads(text)
        assert set(error) == {"error"} and set(error["error"]) == {"code", "message", "details"}


def operation_refuses_hostile_input(
    operation: Any, *, client: Any, headers: dict[str, str]
) -> None:
    """Valid requests to one schemathesis `operation` with one part made hostile; a body that
    is read is refused (4xx), and nothing answers 5xx."""
    body_read = operation.method.upper() in ("POST", "PUT", "PATCH")

    @settings(
        max_examples=20,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        part=st.sampled_from(HOSTILE_PARTS),
        query=hostile_queries(),
        segment=hostile_path_segments,
        data=st.data(),
    )
    def run(case: Any, part: str, query: str, segment: str, data: Any) -> None:
        body = data.draw(with_hostile_field(case.body if isinstance(case.body, dict) else {}))
        response = hostile_request(
            client, case, part=part, query=query, segment=segment, body=body, headers=headers
        )
        assert_refused_in_shape(response, part=part, body_read=body_read)

    run()
