"""`GatewayModel`: a PydanticAI model whose every request is a call of the in-process runtime.

The runtime is synchronous Django code (database, Redis, blocking SDK clients), so each call,
and each step of a stream, runs in Django's thread-sensitive worker through `sync_to_async`:
the agent's event loop never blocks and the ORM is never used from async code.

Each model request of an agent run is one gateway call with its own request id (a run of three
model requests writes three sets of usage records), resolved afresh: a selection changed in
admin serves the very next request.
"""

import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from pydantic_ai.messages import ModelMessage, ModelResponse, ModelResponseStreamEvent
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.profiles import ModelProfile
from pydantic_ai.settings import ModelSettings

from chat.integrations.pydantic_ai.convert import (
    FINISH_REASONS,
    chat_request_build,
    model_error,
    response_parts,
    usage_map,
)
from chat.runtime.streaming import ChatStream
from chat.services import chat_completion_run, chat_completion_stream
from chat.types import CallContext
from config.errors import ApplicationError
from providers.adapters.types import (
    ChatRequest,
    Finish,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)

SYSTEM = "llm-control-plane"
# What every selection can do as far as PydanticAI needs to know; a request a candidate cannot
# serve (no tool support, no JSON mode) is skipped or refused by the runtime itself.
PROFILE = ModelProfile(
    supports_tools=True,
    supports_json_schema_output=True,
    supports_json_object_output=True,
    supports_image_input=True,
    default_structured_output_mode="tool",
)


@dataclasses.dataclass(init=False)
class GatewayModel(Model):
    """A PydanticAI model for a gateway service ("rag_agent") or model string ("openai:gpt-4.1").

    `context` says who is calling (user, API key, conversation) for budgets, rate limits and the
    ledger; its request_id is not used, each model request getting its own.
    """

    service: str
    context: CallContext

    def __init__(
        self,
        service: str,
        *,
        context: CallContext | None = None,
        settings: ModelSettings | None = None,
    ) -> None:
        self.service = service
        self.context = dataclasses.replace(context or CallContext(), request_id=None)
        super().__init__(settings=settings, profile=PROFILE)

    @property
    def model_name(self) -> str:
        return self.service

    @property
    def system(self) -> str:
        return SYSTEM

    def _chat_request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        parameters: ModelRequestParameters,
    ) -> ChatRequest:
        instructions = [p.content for p in self._get_instruction_parts(messages, parameters) or []]
        return chat_request_build(
            model=self.service,
            messages=messages,
            instructions=instructions,
            settings=model_settings,
            parameters=parameters,
        )

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        model_settings, parameters = self.prepare_request(model_settings, model_request_parameters)
        request = self._chat_request(messages, model_settings, parameters)
        try:
            result = await sync_to_async(chat_completion_run)(request=request, context=self.context)
        except ApplicationError as error:
            raise model_error(error, self.service) from error
        served = result.served_by
        return ModelResponse(
            parts=response_parts(result.response),
            usage=usage_map(result.response.usage, result.cost),
            model_name=result.response.model or served.model_name,
            provider_name=served.provider_slug,
            provider_response_id=result.request_id,
            finish_reason=FINISH_REASONS.get(result.response.finish_reason),
            provider_details={
                "request_id": result.request_id,
                "served_by": served.model_string,
                "is_fallback": result.is_fallback,
                "usage_record_id": result.usage_record_id,
                "cost": None if result.cost is None else str(result.cost),
            },
        )

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        model_settings, parameters = self.prepare_request(model_settings, model_request_parameters)
        request = self._chat_request(messages, model_settings, parameters)
        try:
            stream = await sync_to_async(chat_completion_stream)(
                request=request, context=self.context
            )
        except ApplicationError as error:
            raise model_error(error, self.service) from error
        response = GatewayStreamedResponse(model_request_parameters=parameters, stream=stream)
        try:
            yield response
        finally:
            # A stream the agent stopped reading is recorded as cancelled and settled.
            await sync_to_async(stream.close)()


_END = object()


def _next_event(events: Any) -> Any:
    return next(events, _END)


@dataclasses.dataclass
class GatewayStreamedResponse(StreamedResponse):
    """The events of a gateway stream as PydanticAI stream events; once exhausted, `usage`
    carries the cost of the attempt that served, and `provider_details` its usage record."""

    stream: ChatStream = dataclasses.field(repr=False, kw_only=True)
    _timestamp: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.provider_response_id = self.stream.request_id
        self.provider_details = {
            "request_id": self.stream.request_id,
            "served_by": self.stream.served_by.model_string,
            "is_fallback": self.stream.is_fallback,
        }

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        events = await sync_to_async(iter)(self.stream)
        while True:
            try:
                event = await sync_to_async(_next_event)(events)
            except ApplicationError as error:
                raise model_error(error, self.model_name) from error
            if event is _END:
                break
            for mapped in self._map(event):
                yield mapped
        self._add_usage(
            usage_map(self.stream.usage, self.stream.cost), reported=True, cumulative=True
        )
        self.provider_details = {
            **(self.provider_details or {}),
            "usage_record_id": self.stream.usage_record_id,
            "cost": None if self.stream.cost is None else str(self.stream.cost),
        }

    def _map(self, event: StreamEvent) -> list[ModelResponseStreamEvent]:
        manager = self._parts_manager
        if isinstance(event, TextDelta):
            return list(manager.handle_text_delta(vendor_part_id="content", content=event.text))
        if isinstance(event, ToolCallDelta):
            return list(
                manager.handle_tool_call_delta_events(
                    vendor_part_id=("tool", event.index),
                    tool_name=event.name,
                    args=event.arguments or None,
                    tool_call_id=event.id,
                )
            )
        if isinstance(event, UsageEvent):
            self._add_usage(usage_map(event.usage), reported=True, cumulative=True)
        elif isinstance(event, Finish):
            self.finish_reason = FINISH_REASONS.get(event.finish_reason)
        return []

    async def close_stream(self) -> None:
        await sync_to_async(self.stream.close)()

    @property
    def model_name(self) -> str:
        return self.stream.served_by.model_name

    @property
    def provider_name(self) -> str | None:
        return self.stream.served_by.provider_slug

    @property
    def provider_url(self) -> str | None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._timestamp
