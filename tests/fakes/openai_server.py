"""A local server speaking OpenAI's wire format: chat completions (JSON and SSE), embeddings,
models. Used by the adapter tests, the call runtime tests and `make bench` through the real
`openai` SDK, so nothing here may rely on how our adapter happens to call it.

Common fake API (the Anthropic and Gemini fakes offer the same attributes):
- `api_key`: requests with another key get a 401 in OpenAI's error shape (None: accept any).
- `provider_settings(kind=..., **overrides)`: ProviderSettings pointing at this server.
- `reply_text`: the assistant's text (None: "Hello from the OpenAI fake: <last user text>").
- `tool_arguments`: arguments of the tool call made when the request offers tools and the last
  message is the user's (None: {"query": <last user text>}); after a tool result the reply is
  "Tool result: <its content>".
- `usage`: a wire-shaped usage dict to answer instead of the word-count default.
- `models`: the model ids the models endpoint lists.
OpenAI-only extras: `reported_model` (answer this model id instead of echoing the request's);
`reasoning_text` (answer it as `reasoning_content`, as vLLM and DeepSeek do). With
`logprobs: true` the answer carries a logprob per word (`top_logprobs` alternatives each).
`model_quota` (model id -> requests answered before every further one gets a 429, like a
deployment past its contract's quota); `model_status` (model id -> an error status to answer
for that model only, such as one deployment of a model group being down).
"""

import base64
import dataclasses
import hashlib
import itertools
import json
import struct
from collections.abc import Iterator
from typing import Any, cast

import pytest

from providers.adapters.types import ProviderSettings
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest, sse

DEFAULT_API_KEY = "sk-test-openai-0123456789abcdef"
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4.1", "o4-mini", "text-embedding-3-small")
EMBEDDING_DIMENSIONS = 8

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    # status: (type, code, message) as OpenAI answers them
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to sample from this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    422: ("invalid_request_error", None, "Unprocessable request."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", "service_unavailable", "The engine is currently overloaded."),
}
_CONTEXT_MESSAGE = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted "
    "in 130000 tokens. Please reduce the length of the messages."
)


class OpenAIFakeServer(FakeServer):
    name = "openai-fake"

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self._defaults()

    def _defaults(self) -> None:
        self.api_key: str | None = DEFAULT_API_KEY
        self.reply_text: str | None = None
        self.tool_arguments: dict[str, Any] | None = None
        self.usage: dict[str, Any] | None = None
        self.models: list[str] = list(DEFAULT_MODELS)
        self.reported_model: str | None = None
        self.reasoning_text: str | None = None
        self.model_quota: dict[str, int] = {}
        self.model_status: dict[str, int] = {}
        self.served: dict[str, int] = {}

    def reset(self) -> None:
        super().reset()
        self._defaults()

    def provider_settings(self, kind: str = "openai", **overrides: Any) -> ProviderSettings:
        """Settings for an adapter talking to this fake (short timeout, no runtime retries;
        override anything)."""
        settings = ProviderSettings(
            kind=kind,
            slug="openai-fake",
            api_key=self.api_key or "",
            base_url=f"{self.url}/v1",
            timeout=5.0,
            max_retries=0,
            version="1",
        )
        return dataclasses.replace(settings, **overrides)

    # -- errors --------------------------------------------------------------------------
    def error_body(self, status: int, code: str | None) -> Any:
        error_type, default_code, message = _ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
        )
        if code == "context_length_exceeded":
            message = _CONTEXT_MESSAGE
        return {
            "error": {
                "message": message,
                "type": error_type,
                "param": "messages" if code == "context_length_exceeded" else None,
                "code": code or default_code,
            }
        }

    def _error(self, status: int, message: str, code: str | None) -> FakeResponse:
        body = self.error_body(status, code)
        body["error"]["message"] = message
        return FakeResponse(status=status, body=body, headers=self._headers())

    def _headers(self) -> dict[str, str]:
        return {"x-request-id": f"req_fake{next(self._ids):06d}"}

    # -- routing -------------------------------------------------------------------------
    def route(self, request: RecordedRequest) -> FakeResponse:
        presented = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key is not None and presented != self.api_key:
            # Like OpenAI, echo (part of) the key presented: adapters must scrub it.
            return self._error(401, f"Incorrect API key provided: {presented}.", "invalid_api_key")
        routes = {
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/embeddings"): self._embeddings,
            ("GET", "/v1/models"): self._models,
        }
        handler = routes.get((request.method, request.path))
        if handler is None:
            return self._error(404, f"Unknown request URL: {request.path}.", "unknown_url")
        if request.method == "POST" and not isinstance(request.body, dict):
            return self._error(400, "We could not parse the JSON body of your request.", None)
        return handler(request)

    def _models(self, request: RecordedRequest) -> FakeResponse:
        data = [
            {"id": model, "object": "model", "created": 1700000000, "owned_by": "openai-fake"}
            for model in self.models
        ]
        return FakeResponse(body={"object": "list", "data": data}, headers=self._headers())

    def _embeddings(self, request: RecordedRequest) -> FakeResponse:
        body = request.body
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not body.get("model"):
            return self._error(400, "'input' and 'model' are required.", None)
        dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(inputs):
            vector = fake_embedding(str(text), dimensions)
            encoded: Any = vector
            if as_base64:
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(_words(str(text)) for text in inputs)
        payload = {
            "object": "list",
            "data": data,
            "model": self.reported_model or body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return FakeResponse(body=payload, headers=self._headers())

    # -- chat completions ----------------------------------------------------------------
    def _chat(self, request: RecordedRequest) -> FakeResponse:
        body = request.body
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not body.get("model"):
            return self._error(400, "'messages' and 'model' are required.", None)
        if body["model"] not in self.models:
            return self._error(
                404,
                f"The model `{body['model']}` does not exist or you do not have access to it.",
                "model_not_found",
            )
        model_id = body["model"]
        if model_id in self.model_status:
            status = self.model_status[model_id]
            return self._error(status, f"Deployment {model_id} is failing.", None)
        with self._lock:
            if (
                model_id in self.model_quota
                and self.served.get(model_id, 0) >= self.model_quota[model_id]
            ):
                return self._error(429, "Rate limit reached for requests.", None)
            self.served[model_id] = self.served.get(model_id, 0) + 1
        text, tool_call, finish = self._answer(body)
        usage = self.usage or _default_usage(messages, text, tool_call)
        model = self.reported_model or body["model"]
        completion_id = f"chatcmpl-fake{next(self._ids):06d}"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _stream_events(
                completion_id,
                model,
                text,
                tool_call,
                finish,
                usage if include_usage else None,
                reasoning=self.reasoning_text,
                top_logprobs=(body.get("top_logprobs") or 0) if body.get("logprobs") else None,
            )
            return FakeResponse(events=events, headers=self._headers())
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if self.reasoning_text is not None:
            message["reasoning_content"] = self.reasoning_text
        if tool_call is not None:
            message["content"] = None
            message["tool_calls"] = [tool_call]
        logprobs = _logprobs(text, body.get("top_logprobs") or 0) if body.get("logprobs") else None
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "choices": [
                {"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish}
            ],
            "usage": usage,
        }
        return FakeResponse(body=payload, headers=self._headers())

    def _answer(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str]:
        """(text, tool call, finish reason) for a chat request, as documented above."""
        messages = body["messages"]
        last = messages[-1]
        user_text = next(
            (_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        tools = body.get("tools") or []
        choice = body.get("tool_choice")
        if last.get("role") == "tool":
            text = f"Tool result: {_text(last.get('content'))}"
        elif tools and choice != "none" and last.get("role") == "user":
            name = tools[0]["function"]["name"]
            if isinstance(choice, dict):
                name = choice["function"]["name"]
            arguments = self.tool_arguments
            if arguments is None:
                arguments = {"query": user_text}
            call = {
                "id": f"call_fake{next(self._ids):06d}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            return "", call, "tool_calls"
        elif self.reply_text is not None:
            text = self.reply_text
        elif (body.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
            text = json.dumps({"answer": user_text})
        else:
            text = f"Hello from the OpenAI fake: {user_text}"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        words = text.split(" ")
        if limit and len(words) > limit:
            return " ".join(words[:limit]), None, "length"
        return text, None, "stop"


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic vector: the same text always embeds the same."""
    digest = hashlib.sha256(text.encode()).digest()
    while len(digest) < dimensions:
        digest += hashlib.sha256(digest).digest()
    return [round(byte / 127.5 - 1.0, 4) for byte in digest[:dimensions]]


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _logprobs(text: str, top: int) -> dict[str, Any]:
    """One entry per word, its logprob made up from its length (deterministic)."""

    def entry(token: str) -> dict[str, Any]:
        return {"token": token, "logprob": -len(token) / 10, "bytes": list(token.encode())}

    return {
        "content": [
            {**entry(word), "top_logprobs": [entry(word)] * top} for word in text.split(" ") if word
        ],
        "refusal": None,
    }


def _words(text: str) -> int:
    return len(text.split())


def _default_usage(
    messages: list[dict[str, Any]], text: str, tool_call: dict[str, Any] | None
) -> dict[str, Any]:
    prompt = max(1, sum(_words(_text(m.get("content"))) for m in messages))
    generated = tool_call["function"]["arguments"] if tool_call else text
    completion = max(1, _words(generated))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def _stream_events(
    completion_id: str,
    model: str,
    text: str,
    tool_call: dict[str, Any] | None,
    finish: str,
    usage: dict[str, Any] | None,
    *,
    reasoning: str | None = None,
    top_logprobs: int | None = None,
) -> Iterator[bytes]:
    """Chunks as OpenAI streams them: role, content pieces or tool-call fragments, the
    finish reason, then (with include_usage) a usage chunk with no choices, then [DONE]."""

    def chunk(
        delta: dict[str, Any], finish_reason: str | None = None, logprobs: Any = None
    ) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "choices": [choice],
        }
        if usage is not None:
            payload["usage"] = None
        return sse(payload)

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in _pieces(reasoning or "", 2):
        yield chunk({"reasoning_content": piece})
    if tool_call is not None:
        function = tool_call["function"]
        head = {"id": tool_call["id"], "type": "function"}
        yield chunk({"tool_calls": [{"index": 0, **head, "function": {"name": function["name"]}}]})
        arguments = function["arguments"]
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    else:
        for piece in _pieces(text, 3):
            logprobs = _logprobs(piece, top_logprobs) if top_logprobs is not None else None
            yield chunk({"content": piece}, logprobs=logprobs)
    yield chunk({}, finish)
    if usage is not None:
        yield sse(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
    yield sse("[DONE]")


def _pieces(text: str, count: int) -> list[str]:
    """Split text into up to `count` non-empty pieces that join back to it."""
    if not text:
        return []
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.fixture(scope="session")
def openai_fake_server() -> Iterator[OpenAIFakeServer]:
    server = cast(OpenAIFakeServer, OpenAIFakeServer().start())
    yield server
    server.stop()


@pytest.fixture
def openai_fake(openai_fake_server: OpenAIFakeServer) -> OpenAIFakeServer:
    """The shared OpenAI fake, reset (faults, recorded requests, overrides) for this test."""
    openai_fake_server.reset()
    return openai_fake_server
