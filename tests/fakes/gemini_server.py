"""A fake Google Gemini API (generativelanguage, /v1beta) for driving the real google-genai SDK.

Speaks generateContent, streamGenerateContent?alt=sse, embedContent, batchEmbedContents and the
paged models list, checks the key (x-goog-api-key header or ?key= query) and answers a wrong
key the way Google does: 400 INVALID_ARGUMENT with an ErrorInfo reason API_KEY_INVALID.
Replies are deterministic: a greeting echoing the last user text, a functionCall when tools
are offered, "Tool result: ..." after a functionResponse. Token counts are word counts unless
`usage` overrides them. With generationConfig.thinkingConfig.includeThoughts a thought-summary
part (`thought: true`) comes first. The attributes shared with the OpenAI and Anthropic fakes
(api_key, provider_settings, reply_text, tool_arguments, usage, models) let tests switch
providers.
"""

import hashlib
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from providers.adapters.types import ProviderSettings
from tests.fakes.base import FakeResponse, FakeServer, RecordedRequest, sse

API_VERSION = "v1beta"
DEFAULT_API_KEY = "AIzaTEST-gemini-0123456789abcdefghij"
DEFAULT_MODELS = ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001"]
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_RPC = "type.googleapis.com/google.rpc."


def google_error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Any:
    """Google's error envelope: {"error": {"code", "message", "status", "details"}}."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


class GeminiFakeServer(FakeServer):
    name = "gemini-fake"

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self._set_defaults()

    def _set_defaults(self) -> None:
        self.api_key: str = DEFAULT_API_KEY
        self.reply_text: str | None = None
        self.tool_arguments: dict[str, Any] | None = None
        self.usage: dict[str, Any] | None = None
        self.models: list[str] = list(DEFAULT_MODELS)
        self.model_version: str | None = None  # modelVersion to report (default: the model)
        self.thought_signature: str | None = None  # base64 signature put on functionCall parts
        self.retry_delay: str | None = None  # RetryInfo retryDelay ("12s") in 429 bodies
        self.page_size: int = 2  # models per page at most, so the SDK pager must follow pages

    def reset(self) -> None:
        super().reset()
        self._set_defaults()

    def provider_settings(self, kind: str = "gemini", **overrides: Any) -> ProviderSettings:
        values: dict[str, Any] = {
            "kind": kind,
            "slug": "gemini-fake",
            "api_key": self.api_key,
            "base_url": self.url,
            "timeout": 5.0,
            "max_retries": 0,
            "version": "1",
        }
        values.update(overrides)
        return ProviderSettings(**values)

    # -- wire format ---------------------------------------------------------------------
    def error_body(self, status: int, code: str | None) -> Any:
        details: list[dict[str, Any]] = []
        if code:
            details.append(
                {"@type": _RPC + "ErrorInfo", "reason": code, "domain": "googleapis.com"}
            )
        if status == 429 and self.retry_delay:
            details.append({"@type": _RPC + "RetryInfo", "retryDelay": self.retry_delay})
        # Like some Google errors, echo the request URL (with any ?key=): adapters must scrub.
        return google_error(status, f"fake error {status} for {self._last_url()}", details)

    def _last_url(self) -> str:
        if not self.requests:
            return ""
        request = self.requests[-1]
        query = "&".join(f"{k}={v}" for k, values in request.query.items() for v in values)
        return request.path + (f"?{query}" if query else "")

    def route(self, request: RecordedRequest) -> FakeResponse:
        key = request.headers.get("x-goog-api-key") or (request.query.get("key") or [""])[0]
        if key != self.api_key:
            return FakeResponse(400, _bad_key_body())
        prefix = f"/{API_VERSION}/models"
        if not request.path.startswith(prefix):
            return FakeResponse(404, google_error(404, f"Unknown path {request.path}."))
        rest = request.path[len(prefix) :].lstrip("/")
        if request.method == "GET" and not rest:
            return self._list_models(request)
        model, _, method = rest.partition(":")
        if model not in self.models:
            return FakeResponse(
                404, google_error(404, f"models/{model} is not found for API version v1beta.")
            )
        if request.method == "GET" and not method:
            return FakeResponse(200, self._model_info(model))
        handlers = {
            "generateContent": self._generate,
            "streamGenerateContent": self._stream,
            "embedContent": self._embed_one,
            "batchEmbedContents": self._embed_batch,
        }
        handler = handlers.get(method) if request.method == "POST" else None
        if handler is None:
            return FakeResponse(404, google_error(404, f"Unknown method {method}."))
        return handler(model, request.body or {})

    # -- models ----------------------------------------------------------------------------
    def _model_info(self, model: str) -> dict[str, Any]:
        if "embedding" in model:
            methods, limits = ["embedContent", "batchEmbedContents"], (2048, 1)
        else:
            methods, limits = (
                ["generateContent", "countTokens", "createCachedContent"],
                (
                    1048576,
                    65536,
                ),
            )
        return {
            "name": f"models/{model}",
            "version": "001",
            "displayName": model.replace("-", " ").title(),
            "inputTokenLimit": limits[0],
            "outputTokenLimit": limits[1],
            "supportedGenerationMethods": methods,
        }

    def _list_models(self, request: RecordedRequest) -> FakeResponse:
        size = min(int((request.query.get("pageSize") or ["50"])[0]), self.page_size)
        start = int((request.query.get("pageToken") or ["0"])[0])
        page = self.models[start : start + size]
        body: dict[str, Any] = {"models": [self._model_info(model) for model in page]}
        if start + size < len(self.models):
            body["nextPageToken"] = str(start + size)
        return FakeResponse(200, body)

    # -- generation --------------------------------------------------------------------------
    def _generate(self, model: str, body: dict[str, Any]) -> FakeResponse:
        parts, usage = self._answer(body)
        chunk = self._chunk(model, parts, finish="STOP", usage=usage)
        return FakeResponse(200, chunk)

    def _stream(self, model: str, body: dict[str, Any]) -> FakeResponse:
        parts, usage = self._answer(body)
        response_id = f"fake-resp-{next(self._ids)}"
        return FakeResponse(200, events=self._events(model, parts, usage, response_id))

    def _events(
        self, model: str, parts: list[dict[str, Any]], usage: dict[str, Any], response_id: str
    ) -> Iterator[bytes]:
        """Text in several chunks; function calls whole. Only the last chunk has full usage."""
        prompt_only = {
            "promptTokenCount": usage.get("promptTokenCount", 0),
            "totalTokenCount": usage.get("promptTokenCount", 0),
        }
        pieces: list[list[dict[str, Any]]] = []
        for part in parts:
            if "text" in part:
                pieces.extend([{**part, "text": text}] for text in _split(part["text"], 3))
            else:
                pieces.append([part])
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            yield sse(
                self._chunk(
                    model,
                    piece,
                    finish="STOP" if last else None,
                    usage=usage if last else prompt_only,
                    response_id=response_id,
                )
            )

    def _chunk(
        self,
        model: str,
        parts: list[dict[str, Any]],
        *,
        finish: str | None,
        usage: dict[str, Any],
        response_id: str | None = None,
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": self.model_version or model,
            "responseId": response_id or f"fake-resp-{next(self._ids)}",
        }

    def _answer(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        contents = body.get("contents") or []
        last_parts = contents[-1].get("parts", []) if contents else []
        responses = [p["functionResponse"] for p in last_parts if "functionResponse" in p]
        declarations = [
            d for tool in body.get("tools") or [] for d in tool.get("functionDeclarations") or []
        ]
        calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        user_text = _last_user_text(contents)
        parts: list[dict[str, Any]]
        if responses:
            response = responses[0].get("response") or {}
            content = response.get("output", response) if isinstance(response, dict) else response
            text = content if isinstance(content, str) else json.dumps(content)
            parts = [{"text": self.reply_text or f"Tool result: {text}"}]
        elif declarations and calling.get("mode") != "NONE":
            allowed = calling.get("allowedFunctionNames") or [declarations[0]["name"]]
            args = self.tool_arguments if self.tool_arguments is not None else {"query": user_text}
            part: dict[str, Any] = {"functionCall": {"name": allowed[0], "args": args}}
            if self.thought_signature:
                part["thoughtSignature"] = self.thought_signature
            parts = [part]
        else:
            text = self.reply_text or f"Hello from the Gemini fake: {user_text}"
            mime = (body.get("generationConfig") or {}).get("responseMimeType")
            if mime == "application/json" and self.reply_text is None:
                text = json.dumps({"text": text})
            parts = [{"text": text}]
        thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
        # The API reads either spelling; the SDK sends this object's keys in snake case.
        if thinking.get("includeThoughts", thinking.get("include_thoughts")):
            budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
            parts = [{"text": f"Thinking with a budget of {budget}.", "thought": True}, *parts]
        return parts, self._usage(body, parts)

    def _usage(self, body: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
        if self.usage is not None:
            return dict(self.usage)
        prompt_words = _words(body.get("systemInstruction")) + sum(
            _words(content) for content in body.get("contents") or []
        )
        prompt = max(1, prompt_words)
        output = sum(_words(part) for part in parts)
        return {
            "promptTokenCount": prompt,
            "candidatesTokenCount": output,
            "totalTokenCount": prompt + output,
        }

    # -- embeddings --------------------------------------------------------------------------
    def _embed_one(self, model: str, body: dict[str, Any]) -> FakeResponse:
        values = _vector(_text_of(body.get("content")), body.get("outputDimensionality"))
        answer: dict[str, Any] = {"embedding": {"values": values}}
        if self.usage is not None:
            answer["usageMetadata"] = dict(self.usage)
        return FakeResponse(200, answer)

    def _embed_batch(self, model: str, body: dict[str, Any]) -> FakeResponse:
        embeddings = []
        for item in body.get("requests") or []:
            if item.get("model") != f"models/{model}":
                return FakeResponse(400, google_error(400, "Each request must name the model."))
            vector = _vector(_text_of(item.get("content")), item.get("outputDimensionality"))
            embeddings.append({"values": vector})
        answer: dict[str, Any] = {"embeddings": embeddings}
        if self.usage is not None:
            answer["usageMetadata"] = dict(self.usage)
        return FakeResponse(200, answer)


def _bad_key_body() -> Any:
    return google_error(
        400,
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": _RPC + "ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    )


def _text_of(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    return " ".join(p["text"] for p in content.get("parts") or [] if "text" in p)


def _words(value: Any) -> int:
    """Words in the texts and function arguments of a JSON value (a deterministic token count)."""
    if isinstance(value, dict):
        return sum(
            len(v.split()) if k == "text" and isinstance(v, str) else _words(v)
            for k, v in value.items()
            if k not in ("role", "name", "id", "thoughtSignature")
        )
    if isinstance(value, list):
        return sum(_words(v) for v in value)
    if isinstance(value, str):
        return len(value.split())
    return 0


def _last_user_text(contents: list[dict[str, Any]]) -> str:
    for content in reversed(contents):
        if content.get("role", "user") == "user":
            text = _text_of(content)
            if text:
                return text
    return ""


def _split(text: str, pieces: int) -> list[str]:
    """Split text into up to `pieces` chunks that join back to the same text."""
    if len(text) < pieces:
        return [text]
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _vector(text: str, dimensions: int | None) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(digest[i % len(digest)] / 255, 6) for i in range(dimensions or 8)]


@pytest.fixture(scope="session")
def gemini_fake_server() -> Iterator[GeminiFakeServer]:
    server = GeminiFakeServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gemini_fake(gemini_fake_server: GeminiFakeServer) -> GeminiFakeServer:
    """The shared fake, reset (faults, recorded requests, overrides) for this test."""
    gemini_fake_server.reset()
    return gemini_fake_server
