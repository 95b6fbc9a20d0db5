"""A hostile upstream speaking OpenAI's wire, for the outside-in tests (tests/outside_in/).

The ordinary fakes behave; this one does what an adversary's server, or a provider on a bad
day, does to the control plane:
- `echo_key`: answer every request with this HTTP status (401, 400, 500, ...) and an error body
  that carries the presented key in altered forms: exact, partial (minus a few characters at
  either end, or any 8-character run), base64 and URL-encoded. Scrubbing only exact matches
  lets these through. `key_forms(key)` gives the forms to search for.
- One token per character: prompt tokens are the characters of the messages' text, completion
  tokens the characters of the reply (so CJK, emoji and code prompts cost what they weigh).
- Uncapped replies: without `max_tokens`/`max_completion_tokens` the reply is
  `uncapped_reply_chars` characters long; with a cap, at most that many characters.
- `trickle_seconds`: the pause before each streamed chunk after the first.
- `drop_after_chunks`: close the connection after this many content chunks, with no finish
  reason, no usage and no terminating chunk.
- `keys_seen`: every Authorization value presented, so a test can prove where a key went.

Like the other fakes it binds 127.0.0.1 on a random port and answers in a thread of the test
process, so the production stack's processes reach it over loopback.
"""

import base64
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from tests.fakes.base import FakeResponse, Faults, RecordedRequest, sse
from tests.fakes.openai_server import OpenAIFakeServer, _text

HOSTILE_API_KEY = "sk-hostile-upstream-5f2c9a71d04e4b8f9c3e7a2b"
FILLER = "All work and no play makes a long reply. "


def key_forms(key: str) -> dict[str, str]:
    """The altered forms of `key` that a hostile upstream echoes back."""
    return {
        "exact": key,
        "minus_head": key[3:],
        "minus_tail": key[:-4],
        "middle": key[4:-4],
        "base64": base64.b64encode(key.encode()).decode(),
        "base64url": base64.urlsafe_b64encode(key.encode()).decode().rstrip("="),
        "urlencoded": quote(f"Bearer {key}", safe=""),
    }


class HostileServer(OpenAIFakeServer):
    name = "hostile-fake"

    def _defaults(self) -> None:
        super()._defaults()
        self.api_key = HOSTILE_API_KEY
        self.echo_key: int | None = None
        self.uncapped_reply_chars = 2000
        self.trickle_seconds = 0.0
        self.drop_after_chunks: int | None = None
        self.chunk_chars = 20
        self.keys_seen: list[str] = []

    # -- hostility ---------------------------------------------------------------------------
    def route(self, request: RecordedRequest) -> FakeResponse:
        presented = request.headers.get("authorization", "")
        with self._lock:
            self.keys_seen.append(presented)
        if self.echo_key is not None:
            key = presented.removeprefix("Bearer ")
            forms = key_forms(key)
            message = (
                f"Key rejected: ...{forms['minus_head']} (did you mean {forms['minus_tail']}?); "
                f"seen as {forms['base64']} / {forms['base64url']} in {forms['urlencoded']}"
            )
            return self._error(self.echo_key, message, "invalid_api_key")
        return super().route(request)

    def _next_faults(self, request: RecordedRequest) -> Faults | None:
        faults = super()._next_faults(request)
        if self.drop_after_chunks is None:
            return faults
        faults = faults or Faults()
        faults.cut_stream_after = self.drop_after_chunks + 1  # after the role chunk
        return faults

    def _answer(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str]:
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if self.reply_text is not None:
            text = self.reply_text
        else:
            length = self.uncapped_reply_chars if not limit else min(limit, 100_000)
            text = (FILLER * (length // len(FILLER) + 1))[:length]
        if limit and len(text) > limit:
            return text[:limit], None, "length"
        return text, None, "stop"

    def _chat(self, request: RecordedRequest) -> FakeResponse:
        response = super()._chat(request)
        body = request.body
        if response.status != 200 or not isinstance(body, dict):
            return response
        prompt = sum(len(_text(m.get("content"))) for m in body["messages"])
        if response.events is not None:
            response.events = self._slowly(response.events, prompt)
        else:
            completion = len(response.body["choices"][0]["message"]["content"] or "")
            response.body["usage"] = _usage(prompt, completion)
        return response

    def _slowly(self, events: Iterator[bytes], prompt: int) -> Iterator[bytes]:
        """Re-chunk the content into `chunk_chars` pieces, trickle them, count one token per
        character in the usage chunk."""
        delivered = 0
        for index, event in enumerate(events):
            payload = event.decode().removeprefix("data: ").strip()
            if payload == "[DONE]":
                yield event
                return
            data = json.loads(payload)
            if not data["choices"] and data.get("usage") is not None:
                data["usage"] = _usage(prompt, delivered)
                yield sse(data)
                continue
            delta = data["choices"][0]["delta"]
            content = delta.get("content")
            if not content:
                if index and self.trickle_seconds:
                    time.sleep(self.trickle_seconds)
                yield event
                continue
            for start in range(0, len(content), self.chunk_chars):
                piece = content[start : start + self.chunk_chars]
                if self.trickle_seconds:
                    time.sleep(self.trickle_seconds)
                delivered += len(piece)
                data["choices"][0]["delta"] = {"content": piece}
                yield sse(data)


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
