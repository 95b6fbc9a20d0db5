"""A fake Anthropic API: POST /v1/messages (JSON and SSE), POST /v1/messages/count_tokens and
GET /v1/models, on 127.0.0.1.

It checks what Anthropic checks (an API key, the anthropic-version header, max_tokens,
user/assistant roles, tool_result ids that answer the previous turn's tool_use) and answers
in Anthropic's shapes: message objects, the real SSE sequence (message_start,
content_block_start, ping, content_block_delta..., content_block_stop, message_delta,
message_stop), error bodies {"type": "error", "error": {"type", "message"}} and the paged
model list. The key is accepted as `x-api-key` or as `Authorization: Bearer` (the installed
SDK sends the latter for `api_key=`).

Switches shared with the OpenAI and Gemini fakes: `api_key`, `provider_settings()`,
`reply_text`, `tool_arguments`, `usage`, `models`, plus `faults` from FakeServer.
Anthropic-only: `stop_reason` (force one), `tool_preamble` (text before a tool_use block),
`stream_error` (an SSE `error` event of that type after the first text delta),
`redacted_thinking` (answer a redacted_thinking block too when thinking is on).

Extended thinking: with `thinking.type` "enabled" the fake checks budget_tokens (at least 1024,
below max_tokens) and answers a signed thinking block first (streamed as thinking_delta then
signature_delta). Like Anthropic, it refuses a tool_result whose assistant turn (the tool_use)
does not start with the thinking block it was given, signature unchanged.
Prompt caching: the prefix up to the last cache_control breakpoint (tools, system, messages,
in that order) is a cache write the first time it is seen and a read afterwards
(cache_creation_input_tokens / cache_read_input_tokens, in words).
"""

import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.types import ProviderSettings
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest, sse

DEFAULT_API_KEY = "sk-ant-test-0123456789abcdef"
DEFAULT_MODELS = ("claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-7")
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class AnthropicFakeServer(FakeServer):
    name = "anthropic-fake"

    def __init__(self) -> None:
        super().__init__()
        self._ids = 0
        self._ids_lock = threading.Lock()
        self._set_defaults()

    def _set_defaults(self) -> None:
        self.api_key: str = DEFAULT_API_KEY
        self.reply_text: str | None = None
        self.tool_arguments: dict[str, Any] | None = None
        self.usage: dict[str, Any] | None = None
        self.models: list[str] = list(DEFAULT_MODELS)
        self.stop_reason: str | None = None
        self.tool_preamble: str | None = None
        self.stream_error: str | None = None
        self.redacted_thinking: bool = False
        self.cached_prefixes: set[str] = set()

    def reset(self) -> None:
        super().reset()
        self._set_defaults()

    def provider_settings(self, kind: str = "anthropic", **overrides: Any) -> ProviderSettings:
        values: dict[str, Any] = {
            "kind": kind,
            "slug": "anthropic-fake",
            "api_key": self.api_key,
            "base_url": self.url,
            "timeout": 5.0,
            "max_retries": 0,
            "version": "fake-1",
        }
        values.update(overrides)
        return ProviderSettings(**values)

    def error_body(self, status: int, code: str | None) -> Any:
        """Anthropic's error shape; a fault's `error_code` goes to error.details.error_code."""
        error: dict[str, Any] = {
            "type": ERROR_TYPES.get(
                status, "api_error" if status >= 500 else "invalid_request_error"
            ),
            "message": f"fake error {status}",
        }
        if code:
            error["details"] = {"error_code": code}
        return {"type": "error", "error": error}

    # -- routing ---------------------------------------------------------------------------
    def route(self, request: RecordedRequest) -> FakeResponse:
        if not self._authorised(request.headers):
            return self._error(401, "authentication_error", "invalid x-api-key")
        if "anthropic-version" not in request.headers:
            return self._error(400, "invalid_request_error", "anthropic-version header is required")
        if request.method == "POST" and request.path == "/v1/messages":
            return self._messages(request.body)
        if request.method == "POST" and request.path == "/v1/messages/count_tokens":
            return self._count_tokens(request.body)
        if request.method == "GET" and request.path == "/v1/models":
            return self._models(request.query)
        return self._error(404, "not_found_error", f"no route {request.method} {request.path}")

    def _authorised(self, headers: dict[str, str]) -> bool:
        return headers.get("x-api-key") == self.api_key or (
            headers.get("authorization") == f"Bearer {self.api_key}"
        )

    def _error(self, status: int, error_type: str, message: str) -> FakeResponse:
        body = {"type": "error", "error": {"type": error_type, "message": message}}
        return FakeResponse(status=status, body=body, headers={"request-id": self._next_id("req")})

    def _next_id(self, prefix: str) -> str:
        with self._ids_lock:
            self._ids += 1
            return f"{prefix}_fake_{self._ids:06d}"

    # -- /v1/models --------------------------------------------------------------------------
    def _models(self, query: dict[str, list[str]]) -> FakeResponse:
        limit = int(query.get("limit", ["20"])[0])
        ids = list(self.models)
        start = 0
        if after := query.get("after_id", [None])[0]:
            start = ids.index(after) + 1 if after in ids else len(ids)
        page = ids[start : start + limit]
        data = [
            {
                "type": "model",
                "id": model_id,
                "display_name": _display_name(model_id),
                "created_at": "2025-09-29T00:00:00Z",
                "lifecycle": "active",
                "max_input_tokens": 200_000,
                "max_tokens": 64_000,
            }
            for model_id in page
        ]
        body = {
            "data": data,
            "has_more": start + limit < len(ids),
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }
        return FakeResponse(body=body, headers={"request-id": self._next_id("req")})

    # -- /v1/messages ------------------------------------------------------------------------
    def _messages(self, body: Any) -> FakeResponse:
        problem = _validate(body) or _thinking_problem(body)
        if problem:
            return self._error(400, "invalid_request_error", problem)
        blocks, stop_reason = self._reply_blocks(body)
        if (body.get("thinking") or {}).get("type") == "enabled":
            blocks = [*self._thinking_blocks(body), *blocks]
        usage = self._usage(body, blocks)
        headers = {"request-id": self._next_id("req")}
        message = {
            "id": self._next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": self.stop_reason or stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if body.get("stream"):
            return FakeResponse(headers=headers, events=self._events(message))
        return FakeResponse(body=message, headers=headers)

    def _count_tokens(self, body: Any) -> FakeResponse:
        """The prompt's word count, as `_usage` counts input; refuses what Anthropic refuses
        here (max_tokens is not a count_tokens field)."""
        if isinstance(body, dict) and "max_tokens" in body:
            return self._error(400, "invalid_request_error", "max_tokens: Extra inputs")
        problem = _validate({**body, "max_tokens": 1} if isinstance(body, dict) else body)
        if problem:
            return self._error(400, "invalid_request_error", problem)
        tokens = self._usage(body, [])["input_tokens"]
        return FakeResponse(
            body={"input_tokens": tokens}, headers={"request-id": self._next_id("req")}
        )

    def _reply_blocks(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        last = body["messages"][-1]
        content = last["content"]
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if last["role"] == "user" and results:
            return [_text_block("Tool result: " + _result_text(results[0]))], "end_turn"
        user_text = _text_of(blocks)
        tools = body.get("tools") or []
        choice = body.get("tool_choice") or {"type": "auto"}
        if tools and choice.get("type") != "none":
            name = choice.get("name") if choice.get("type") == "tool" else tools[0]["name"]
            arguments = self.tool_arguments
            tool_use = {
                "type": "tool_use",
                "id": self._next_id("toolu"),
                "name": name,
                "input": {"query": user_text} if arguments is None else arguments,
            }
            preamble = [_text_block(self.tool_preamble)] if self.tool_preamble else []
            return [*preamble, tool_use], "tool_use"
        text = (
            self.reply_text
            if self.reply_text is not None
            else f"Hello from the Anthropic fake: {user_text}"
        )
        stop_reason = "end_turn"
        for stop in body.get("stop_sequences") or []:
            if stop and stop in text:
                text, stop_reason = text[: text.index(stop)], "stop_sequence"
        words = text.split(" ")
        if len(words) > body["max_tokens"]:
            text, stop_reason = " ".join(words[: body["max_tokens"]]), "max_tokens"
        return [_text_block(text)], stop_reason

    def _thinking_blocks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        text = f"Thinking about it with {body['thinking']['budget_tokens']} tokens."
        blocks = [{"type": "thinking", "thinking": text, "signature": _signature(text)}]
        if self.redacted_thinking:
            blocks.append({"type": "redacted_thinking", "data": "ZmFrZS1yZWRhY3RlZA=="})
        return blocks

    def _cache_usage(self, body: dict[str, Any]) -> dict[str, int]:
        """Cache write or read of the prefix up to the last cache_control breakpoint."""
        prefix: list[Any] = []
        cached: list[Any] = []
        system = body.get("system")
        for item in [
            *(body.get("tools") or []),
            *(system if isinstance(system, list) else []),
            *[
                block
                for message in body["messages"]
                if isinstance(message["content"], list)
                for block in message["content"]
            ],
        ]:
            prefix.append(item)
            if isinstance(item, dict) and item.get("cache_control"):
                cached = list(prefix)
        if not cached:
            return {}
        key = hashlib.sha256(json.dumps(cached, sort_keys=True).encode()).hexdigest()
        tokens = max(1, len(json.dumps(cached).split()))
        if key in self.cached_prefixes:
            return {"cache_read_input_tokens": tokens}
        self.cached_prefixes.add(key)
        return {"cache_creation_input_tokens": tokens}

    def _usage(self, body: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
        system = body.get("system") or ""
        prompt = [system if isinstance(system, str) else _text_of(system)]
        for message in body["messages"]:
            content = message["content"]
            prompt.append(content if isinstance(content, str) else _text_of(content, deep=True))
        output = sum(len(_block_words(block)) for block in blocks)
        usage: dict[str, Any] = {
            "input_tokens": max(1, len(" ".join(prompt).split())),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": max(1, output),
        }
        usage.update(self._cache_usage(body))
        usage.update(self.usage or {})
        return usage

    def _events(self, message: dict[str, Any]) -> Iterator[bytes]:
        usage = message["usage"]
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 1},
        }
        yield sse({"type": "message_start", "message": start}, "message_start")
        for index, block in enumerate(message["content"]):
            opening = _opening(block)
            yield sse(
                {"type": "content_block_start", "index": index, "content_block": opening},
                "content_block_start",
            )
            if index == 0:
                yield sse({"type": "ping"}, "ping")
            for delta in _deltas(block):
                yield sse(
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    "content_block_delta",
                )
                if self.stream_error:
                    error = {"type": self.stream_error, "message": "Overloaded"}
                    yield sse({"type": "error", "error": error}, "error")
                    return
            yield sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        yield sse({"type": "message_delta", "delta": delta, "usage": usage}, "message_delta")
        yield sse({"type": "message_stop"}, "message_stop")


# -- request validation and helpers ------------------------------------------------------------
def _validate(body: Any) -> str | None:
    """The first thing Anthropic would refuse in this body, or None."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 0:
        return "max_tokens: Field required"
    if not body.get("model"):
        return "model: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        return "system: Input should be a valid string or a list of text blocks"
    previous_tool_ids: set[str] = set()
    for index, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for block in blocks:
            kind = block.get("type")
            if kind == "text" and not isinstance(block.get("text"), str):
                return f"messages.{index}: text blocks need text"
            if kind == "tool_result" and block.get("tool_use_id") not in previous_tool_ids:
                return f"messages.{index}: tool_result does not answer a preceding tool_use"
            if kind == "image" and block.get("source", {}).get("type") not in ("base64", "url"):
                return f"messages.{index}: image source must be base64 or url"
        previous_tool_ids = {b["id"] for b in blocks if b.get("type") == "tool_use"}
    choice = body.get("tool_choice")
    if choice is not None and choice.get("type") not in ("auto", "any", "tool", "none"):
        return "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'"
    return None


def _display_name(model_id: str) -> str:
    """ "claude-sonnet-4-6" -> "Claude Sonnet 4.6", as Anthropic names its models."""
    parts = model_id.split("-")
    words = " ".join(p.title() for p in parts if not p.isdigit())
    version = ".".join(p for p in parts if p.isdigit())
    return f"{words} {version}".strip()


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _text_of(blocks: list[dict[str, Any]], *, deep: bool = False) -> str:
    texts = [b.get("text", "") for b in blocks if b.get("type") == "text"]
    if deep:
        texts += [_result_text(b) for b in blocks if b.get("type") == "tool_result"]
        texts += [json.dumps(b.get("input", {})) for b in blocks if b.get("type") == "tool_use"]
    return " ".join(texts)


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content", "")
    return content if isinstance(content, str) else _text_of(content)


def _block_words(block: dict[str, Any]) -> list[str]:
    if block["type"] == "text":
        return block["text"].split()
    if block["type"] == "thinking":
        return block["thinking"].split()
    if block["type"] == "redacted_thinking":
        return ["redacted"]
    return json.dumps(block["input"]).split()


def _signature(text: str) -> str:
    return "sig-" + hashlib.sha256(text.encode()).hexdigest()[:24]


def _thinking_problem(body: dict[str, Any]) -> str | None:
    """What Anthropic refuses about extended thinking and its round trip."""
    thinking = body.get("thinking")
    if thinking is None:
        return None
    if thinking.get("type") == "disabled":
        return None
    if thinking.get("type") != "enabled":
        return "thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'"
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.budget_tokens: Input should be greater than or equal to 1024"
    if budget >= body["max_tokens"]:
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    messages = body["messages"]
    for index, message in enumerate(messages):
        content = message["content"]
        if message["role"] != "assistant" or not isinstance(content, list):
            continue
        if not any(block.get("type") == "tool_use" for block in content):
            continue
        first = content[0]
        if first.get("type") == "redacted_thinking":
            continue
        if first.get("type") != "thinking" or first.get("signature") != _signature(
            first.get("thinking", "")
        ):
            return (
                f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                "but found another block. When `thinking` is enabled, a final `assistant` "
                "message must start with a thinking block."
            )
    return None


def _opening(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] == "text":
        return {**block, "text": ""}
    if block["type"] == "thinking":
        return {**block, "thinking": "", "signature": ""}
    if block["type"] == "redacted_thinking":
        return block
    return {**block, "input": {}}


def _deltas(block: dict[str, Any]) -> list[dict[str, Any]]:
    """Text in word-sized pieces; tool input JSON in two fragments; thinking in two pieces
    then its signature."""
    if block["type"] == "redacted_thinking":
        return []
    if block["type"] == "thinking":
        text = block["thinking"]
        half = len(text) // 2
        return [
            {"type": "thinking_delta", "thinking": text[:half]},
            {"type": "thinking_delta", "thinking": text[half:]},
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    if block["type"] == "text":
        words = block["text"].split(" ")
        pieces = [word + " " for word in words[:-1]] + [words[-1]]
        return [{"type": "text_delta", "text": piece} for piece in pieces if piece]
    arguments = json.dumps(block["input"])
    half = len(arguments) // 2
    return [
        {"type": "input_json_delta", "partial_json": arguments[:half]},
        {"type": "input_json_delta", "partial_json": arguments[half:]},
    ]


# -- pytest fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def anthropic_fake_server() -> Iterator[AnthropicFakeServer]:
    server = AnthropicFakeServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def anthropic_fake(anthropic_fake_server: AnthropicFakeServer) -> AnthropicFakeServer:
    """The shared fake, with faults, recorded requests and overrides reset for this test."""
    anthropic_fake_server.reset()
    return anthropic_fake_server


@pytest.fixture(scope="session")
def anthropic_shared_adapter(anthropic_fake_server: AnthropicFakeServer) -> AnthropicAdapter:
    """One adapter for the session, as in production (an SDK client costs ~0.1 s to build)."""
    return AnthropicAdapter(anthropic_fake_server.provider_settings())


@pytest.fixture
def anthropic_adapter(
    anthropic_shared_adapter: AnthropicAdapter, anthropic_fake: AnthropicFakeServer
) -> AnthropicAdapter:
    """An AnthropicAdapter talking to the fake, which is reset for this test."""
    return anthropic_shared_adapter
