"""Scrubbing the provider's text kept for staff: the key whole, any 8-character run of it,
base64 and URL-encoded, in the message and in every chained SDK exception, for every adapter."""

import base64
from typing import Any
from urllib.parse import quote

import pytest

from providers.adapters.errors import ProviderError
from providers.adapters.registry import adapter_class_for
from providers.adapters.scrubbing import SecretScrubber
from providers.adapters.types import ProviderSettings
from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.gemini_server import GeminiFakeServer, google_error
from tests.fakes.openai_server import OpenAIFakeServer

KEY = "sk-live-Zq8wXy3Rt7Uv1Kp0Lm9Nb2Vc4"


def echoes(key: str) -> list[str]:
    """The forms a hostile upstream sends the key back in."""
    return [
        key,
        key[:-3],  # all but the last characters
        key[4:20],  # a middle part
        base64.b64encode(key.encode()).decode(),
        base64.urlsafe_b64encode(key[5:].encode()).decode(),
        quote("key=" + key + "/?&", safe=""),
        quote(key, safe="").lower(),
    ]


def assert_clean(text: str, key: str = KEY) -> None:
    for i in range(len(key) - 7):
        assert key[i : i + 8] not in text, (key[i : i + 8], text)
    assert base64.b64encode(key.encode()).decode()[:12] not in text


@pytest.mark.parametrize("echo", echoes(KEY))
def test_every_form_of_the_key_is_scrubbed(echo):
    scrubbed = SecretScrubber([KEY]).scrub(f"upstream said: invalid key {echo} (try again)")
    assert "[REDACTED]" in scrubbed
    assert_clean(scrubbed)
    assert scrubbed.startswith("upstream said: invalid key ")


def test_text_without_the_key_is_left_alone_and_short_secrets_are_ignored():
    scrubber = SecretScrubber([KEY, "none", ""])
    text = "model gpt-4o not found; none of the models match"
    assert scrubber.scrub(text) == text
    assert len(scrubber.scrub("x" * 5000)) == 1000  # bounded for people


def test_exception_chain_is_scrubbed_in_place():
    scrubber = SecretScrubber([KEY])
    inner = ValueError(f"body: {KEY[2:-2]}")
    outer = RuntimeError(f"wrapped {base64.b64encode(KEY.encode()).decode()}")
    outer.__cause__ = inner
    outer.body = {"error": {"message": [f"again {KEY}"]}}  # type: ignore[attr-defined]
    scrubber.scrub_exception_chain(outer)
    assert_clean(str(outer))
    assert_clean(str(inner))
    assert_clean(str(outer.body))  # type: ignore[attr-defined]


class _Hostile:
    """Mixed into a fake: every error answer echoes the key in all its altered forms."""

    def error_body(self, status: int, code: str | None) -> Any:
        body = super().error_body(status, code)  # type: ignore[misc]
        text = " | ".join(echoes(self.api_key))  # type: ignore[attr-defined]
        if "error" in body and isinstance(body["error"], dict):
            body["error"]["message"] = f"internal service says {text}"
        return body


class HostileOpenAI(_Hostile, OpenAIFakeServer):
    pass


class HostileAnthropic(_Hostile, AnthropicFakeServer):
    pass


class HostileGemini(GeminiFakeServer):
    def error_body(self, status: int, code: str | None) -> Any:
        return google_error(status, "internal service says " + " | ".join(echoes(self.api_key)), [])


@pytest.mark.parametrize(
    ("kind", "server_class"),
    [
        ("openai_compatible", HostileOpenAI),
        ("anthropic", HostileAnthropic),
        ("gemini", HostileGemini),
    ],
)
def test_every_adapter_scrubs_altered_echoes_from_messages_and_causes(kind, server_class):
    server = server_class().start()
    try:
        server.api_key = KEY
        server.faults.status = 500
        base = f"{server.url}/v1" if kind == "openai_compatible" else server.url
        adapter = adapter_class_for(kind)(
            ProviderSettings(kind=kind, slug="h", api_key=KEY, base_url=base, timeout=2)
        )
        with pytest.raises(ProviderError) as caught:
            adapter.list_models()
    finally:
        server.stop()
    error = caught.value
    assert "[REDACTED]" in error.message
    assert_clean(error.message)
    assert "internal service says" not in error.public_message
    assert "internal service says" not in error.staff_summary()
    cause: BaseException | None = error.__cause__
    assert cause is not None
    while cause is not None:
        assert_clean(str(cause))
        assert_clean(repr(getattr(cause, "body", "")))
        cause = cause.__cause__ or cause.__context__
