"""Provider keys never reach a log line: not in a ProviderError logged with its traceback (the
chained SDK exception included), not in log arguments, not through the API exception handler.

Keys here are deliberately not key-shaped ("wrong-..."), so only the adapters' exact-key
scrubbing can hide them; key-shaped ones test the logging filter's own patterns.
"""

import io
import logging
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from config.api import exception_handler
from config.logging import RedactSecretsFilter
from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.errors import ProviderAuthenticationError, ProviderError
from providers.adapters.gemini_adapter import GeminiAdapter
from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.types import ChatRequest, Message

HELLO = (Message(role="user", content="hello"),)
WRONG_OPENAI = "wrong-openai-credential-7Hq2xZ9"
WRONG_ANTHROPIC = "wrong-anthropic-credential-K3m8pQ"
WRONG_GEMINI = "wrong-gemini-credential-Vb5nT1"
SHAPED_KEYS = [
    "sk-proj-Abc123def456ghi789jkl012mno345",
    "sk-ant-api03-Abc123def456ghi789jkl012",
    "AIzaSyAbc123def456ghi789jkl012mno345pq",
]


@pytest.fixture
def captured() -> Iterator[Callable[[], str]]:
    """A handler built like the project's console handler (LOGGING's filter and formatter),
    on the root logger, so every logger's records pass through it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]))
    handler.addFilter(import_string(settings.LOGGING["filters"]["redact_secrets"]["()"])())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream.getvalue
    finally:
        root.removeHandler(handler)


def test_the_configured_console_handler_redacts():
    filters = settings.LOGGING["handlers"]["console"]["filters"]
    assert filters == ["redact_secrets"]
    assert import_string(settings.LOGGING["filters"]["redact_secrets"]["()"]) is (
        RedactSecretsFilter
    )


def _failure(call: Callable[[], object]) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value


def _openai_error(openai_fake) -> tuple[ProviderError, str]:
    adapter = OpenAIAdapter(openai_fake.provider_settings(api_key=WRONG_OPENAI))
    error = _failure(lambda: adapter.complete(ChatRequest(model="gpt-4o-mini", messages=HELLO)))
    # The fake echoed the key, as OpenAI does (scrubbed here): otherwise this proves nothing.
    assert "Incorrect API key provided: [REDACTED]" in error.message
    return error, WRONG_OPENAI


def _anthropic_error(anthropic_fake) -> tuple[ProviderError, str]:
    adapter = AnthropicAdapter(anthropic_fake.provider_settings(api_key=WRONG_ANTHROPIC))
    request = ChatRequest(model="claude-haiku-4-5", messages=HELLO, max_tokens=10)
    return _failure(lambda: adapter.complete(request)), WRONG_ANTHROPIC


def _gemini_wrong_key_error(gemini_fake) -> tuple[ProviderError, str]:
    gemini_fake.api_key = "AIzaTEST-the-right-one-000000000000"
    settings_ = gemini_fake.provider_settings(
        api_key=WRONG_GEMINI, base_url=f"{gemini_fake.url}?key={WRONG_GEMINI}"
    )
    adapter = GeminiAdapter(settings_)
    error = _failure(
        lambda: adapter.complete(ChatRequest(model="gemini-2.5-flash", messages=HELLO))
    )
    assert isinstance(error, ProviderAuthenticationError)
    return error, WRONG_GEMINI


def _gemini_url_echo_error(gemini_fake) -> tuple[ProviderError, str]:
    """Google echoes the request URL in some errors; with ?key= in it, that is the key."""
    key = "gemini-right-credential-in-url-Zx4"
    gemini_fake.api_key = key
    gemini_fake.faults.status = 500
    adapter = GeminiAdapter(
        gemini_fake.provider_settings(api_key=key, base_url=f"{gemini_fake.url}?key={key}")
    )
    error = _failure(
        lambda: adapter.complete(ChatRequest(model="gemini-2.5-flash", messages=HELLO))
    )
    assert gemini_fake.last_request().query["key"] == [key]
    return error, key


BUILDERS = {
    "openai": ("openai_fake", _openai_error),
    "anthropic": ("anthropic_fake", _anthropic_error),
    "gemini-wrong-key": ("gemini_fake", _gemini_wrong_key_error),
    "gemini-key-in-url": ("gemini_fake", _gemini_url_echo_error),
}


@pytest.mark.parametrize("case", list(BUILDERS))
def test_provider_error_logged_with_traceback_shows_no_key(case, request, captured):
    fixture, build = BUILDERS[case]
    error, key = build(request.getfixturevalue(fixture))
    assert error.__cause__ is not None  # the SDK exception is chained and will be printed

    logging.getLogger("chat.runtime").error("Provider call failed: %s", error, exc_info=error)
    logging.getLogger("chat.runtime").warning("Call failed: %r (%s)", error, error.__cause__)

    output = captured()
    assert type(error.__cause__).__name__ in output  # the chained SDK exception was rendered
    assert "direct cause" in output
    assert key not in output


@pytest.mark.parametrize("case", list(BUILDERS))
def test_provider_error_through_the_api_handler_shows_no_key(case, request, captured):
    fixture, build = BUILDERS[case]
    error, key = build(request.getfixturevalue(fixture))

    response = exception_handler(error, {})
    assert response.status_code == error.http_status
    assert key not in str(response.data)

    # An unexpected error wrapping the provider failure is logged with the whole chain.
    try:
        raise RuntimeError("unexpected failure after the provider call") from error
    except RuntimeError as unexpected:
        response = exception_handler(unexpected, {})
    assert response.status_code == 500
    output = captured()
    assert "Unhandled error in API view" in output and "direct cause" in output
    assert key not in output and key not in str(response.data)


@pytest.mark.parametrize("key", SHAPED_KEYS)
def test_filter_redacts_keys_held_in_record_args(key, captured):
    log = logging.getLogger("providers.services")
    log.info("Saving provider with key %s", key)
    log.info("Headers: %s", {"Authorization": f"Bearer {key}", "x-api-key": key})
    log.info("%(who)s sent %(key)s", {"who": "staff", "key": key})
    log.warning("Calling https://example.invalid/v1beta/models?alt=sse&key=%s", key)
    try:
        raise ValueError(f"upstream said: invalid key {key}")
    except ValueError:
        log.exception("Failed for key %s", key)

    output = captured()
    assert output.count("[REDACTED]") >= 6
    assert key not in output
    assert key[8:] not in output  # not even the tail of it


def test_filter_keeps_records_without_secrets_intact(captured):
    logging.getLogger("usage").info("Rolled up %d days for %s", 3, "rag_agent")
    assert "Rolled up 3 days for rag_agent" in captured()


def test_filter_redacts_passwords_in_connection_urls(captured):
    logging.getLogger("config").error(
        "Cannot reach redis://:redis-pass-9f8e@cache:6379/0 or postgres://app:pg-pass-7d6c@db/cp"
    )
    output = captured()
    assert "redis-pass-9f8e" not in output and "pg-pass-7d6c" not in output
    assert "postgres://app:[REDACTED]@db/cp" in output


CELERY_WORKER_LOGS = """
import logging
import django
django.setup()
from celery.utils.log import get_task_logger
from config.celery import app
app.log.setup_logging_subsystem(loglevel="INFO")  # what a worker does at start
logging.getLogger("usage.tasks").error("failed with Bearer %s", "KEY")
get_task_logger("usage.tasks").error("failed with key %s", "KEY")
"""


def test_celery_worker_logs_are_redacted_too():
    """A worker replaces the root logger's handlers with its own: they must redact as well.
    (A subprocess, because a worker's logging setup rewires the whole process.)"""
    import os
    import subprocess
    import sys

    key = SHAPED_KEYS[0]
    result = subprocess.run(
        [sys.executable, "-c", CELERY_WORKER_LOGS.replace("KEY", key)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        check=True,
    )
    output = result.stdout + result.stderr
    assert output.count("failed with") == 2, output
    assert key not in output
