"""`provider_model`: PydanticAI's own model class for one stored provider, for code that must
call the provider directly (a provider feature the gateway does not map), with usage recorded.

The SDK client is built like the adapters build theirs: the decrypted key, the stored base URL,
organization, project and headers, the SDK's own retries off, and an HTTP client that checks
every connection against the egress policy (PROVIDER_ALLOWED_NETWORKS, never metadata
addresses). Credentials bound to another destination are refused before anything is built.

Each request (streamed or not, failed or not) writes one UsageRecord with the gateway's cost
at the stored prices, exactly as an attempt of the runtime does. What this path does not do:
selection, fallbacks, budgets and rate limits; use `GatewayModel` for those. A stream the
caller abandons is recorded with the usage PydanticAI had seen by then (often none: the
provider reports usage at the end), flagged as cancelled.
"""

import dataclasses
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any

from asgiref.sync import sync_to_async
from django.utils import timezone
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage

from chat.integrations.pydantic_ai.convert import usage_from
from chat.types import new_request_id
from config.errors import InvalidInput
from providers.adapters.egress import guarded_async_http_client
from providers.adapters.errors import ProviderKeyUnboundError
from providers.adapters.types import ProviderSettings
from providers.models import ProviderConfig
from providers.resolution import ResolvedModel
from providers.selectors import model_selection_resolve
from usage.services.ledger import usage_record_create

CANCELLED = "cancelled"
PROVIDER_ERROR = "provider_error"


def _openai_model(settings: ProviderSettings, model_name: str) -> Model:
    import openai
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    from providers.adapters.openai_adapter import KEYLESS_PLACEHOLDER, OPENAI_BASE_URL

    client = openai.AsyncOpenAI(
        http_client=_http_client(settings),
        api_key=settings.api_key or KEYLESS_PLACEHOLDER,
        base_url=settings.base_url or OPENAI_BASE_URL,
        organization=settings.organization or None,
        project=settings.project or None,
        default_headers=dict(settings.extra_headers) or None,
        timeout=settings.timeout,
        max_retries=0,
    )
    # The SDK fills organization/project from the environment when given None.
    client.organization = settings.organization or None
    client.project = settings.project or None
    return OpenAIChatModel(model_name, provider=OpenAIProvider(openai_client=client))


def _anthropic_model(settings: ProviderSettings, model_name: str) -> Model:
    import anthropic
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    from providers.adapters.anthropic_adapter import DEFAULT_BASE_URL

    client = anthropic.AsyncAnthropic(
        http_client=_http_client(settings),
        api_key=settings.api_key,
        base_url=settings.base_url or DEFAULT_BASE_URL,
        default_headers=dict(settings.extra_headers) or None,
        timeout=settings.timeout,
        max_retries=0,
    )
    return AnthropicModel(model_name, provider=AnthropicProvider(anthropic_client=client))


def _gemini_model(settings: ProviderSettings, model_name: str) -> Model:
    from google import genai
    from google.genai import types
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    from providers.adapters.gemini_adapter import API_VERSION, DEFAULT_BASE_URL

    options = types.HttpOptions(
        base_url=settings.base_url or DEFAULT_BASE_URL,
        api_version=API_VERSION,
        headers=dict(settings.extra_headers) or None,
        timeout=max(1, int(settings.timeout * 1000)),
        retry_options=types.HttpRetryOptions(attempts=1),
        httpx_async_client=_http_client(settings),
    )
    client = genai.Client(api_key=settings.api_key, vertexai=False, http_options=options)
    return GoogleModel(model_name, provider=GoogleProvider(client=client))


# Provider kind -> the PydanticAI model class built for it.
NATIVE_MODELS: dict[str, Callable[[ProviderSettings, str], Model]] = {
    "openai": _openai_model,
    "openai_compatible": _openai_model,
    "anthropic": _anthropic_model,
    "gemini": _gemini_model,
}


def _http_client(settings: ProviderSettings) -> Any:
    return guarded_async_http_client(allowed=settings.allowed_networks, timeout=settings.timeout)


def provider_model(model_string: str) -> "RecordedModel":
    """PydanticAI's model for "provider:model", built from the stored provider configuration
    and recording every request in the usage ledger. The model must be enabled and its
    provider usable (InvalidInput, NotFound or NoUsableModel otherwise); a service name is
    refused: a service may fail over, which only `GatewayModel` does."""
    selection = model_selection_resolve(name=model_string)
    if selection.service is not None or not selection.candidates:
        raise InvalidInput(
            f"{model_string[:200]!r} is a service: name one model as provider:model, or "
            "use GatewayModel for a service.",
            details={"model": model_string[:200]},
        )
    candidate = selection.candidates[0]
    settings = ProviderConfig.objects.get(slug=candidate.provider_slug).to_settings()
    if settings.credentials_unbound:
        raise ProviderKeyUnboundError(provider=settings.slug)
    build = NATIVE_MODELS.get(settings.kind)
    if build is None:
        raise InvalidInput(f"No PydanticAI model is known for {settings.kind} providers.")
    return RecordedModel(build(settings, candidate.model_name), candidate=candidate)


@dataclasses.dataclass(init=False)
class RecordedModel(WrapperModel):
    """A native model whose requests are written to the usage ledger (one record each)."""

    candidate: ResolvedModel

    def __init__(self, wrapped: Model, *, candidate: ResolvedModel) -> None:
        super().__init__(wrapped)
        self.candidate = candidate

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        clock = _Clock()
        try:
            response = await self.wrapped.request(
                messages, model_settings, model_request_parameters
            )
        except Exception as error:
            await self._record(clock, None, outcome=_outcome(error), error=error)
            raise
        await self._record(clock, response)
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        clock = _Clock()
        streamed: StreamedResponse | None = None
        outcome, failure = "ok", None
        try:
            async with self.wrapped.request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as streamed:
                yield streamed
        except BaseException as error:
            outcome, failure = _outcome(error), error
            raise
        finally:
            response = streamed.get() if streamed is not None else None
            if failure is None and response is not None and response.state != "complete":
                outcome = CANCELLED
            await self._record(clock, response, outcome=outcome, error=failure, streamed=True)

    async def _record(
        self,
        clock: "_Clock",
        response: ModelResponse | None,
        *,
        outcome: str = "ok",
        error: BaseException | None = None,
        streamed: bool = False,
    ) -> None:
        usage = response.usage if response is not None else RequestUsage()
        await sync_to_async(usage_record_create)(
            request_id=new_request_id(),
            model=self.candidate,
            usage=usage_from(usage),
            outcome=outcome,
            error_message=type(error).__name__ if error is not None else "",
            streamed=streamed,
            latency_ms=clock.elapsed_ms(),
            provider_request_id=response.provider_response_id if response is not None else None,
            model_reported=(response.model_name or "") if response is not None else "",
            created_at=clock.created_at,
        )


class _Clock:
    def __init__(self) -> None:
        self.created_at = timezone.now()
        self.started = time.perf_counter()

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


def _outcome(error: BaseException) -> str:
    """The record's outcome: cancelled for an abandoned call, else the PydanticAI error's
    provider code when it has one, else provider_error."""
    if not isinstance(error, Exception):
        return CANCELLED
    return str(getattr(error, "provider_error_code", None) or PROVIDER_ERROR)[:32]
