"""Fixtures of the Responses API tests: an SDK client on a live server, and one chat model
per provider fake (OpenAI, Anthropic, Gemini) that the service `assistant` is pointed at in
turn."""

import openai
import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create


def sdk_client(live_server, secret: str) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0, timeout=20
    )


@pytest.fixture
def secret(db) -> str:
    return ConsumerAPIKey.objects.create_key(name="responses-test")[1]


@pytest.fixture
def sdk(live_server, secret):
    with sdk_client(live_server, secret) as sdk:  # closing ends the live server's threads
        yield sdk


@pytest.fixture
def chat_models(openai_fake, anthropic_fake, gemini_fake):
    return {
        "openai": model_create(
            provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini"
        ),
        "anthropic": model_create(
            provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
        ),
        "gemini": model_create(
            provider_create(gemini_fake, slug="gm", kind="gemini"), "gemini-2.5-flash"
        ),
    }
