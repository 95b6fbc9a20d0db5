"""The public types of calling models: what chat.services takes and returns, and the error a
consumer key gets for a model it may not use or that does not exist (views render these)."""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from config.errors import NotFound
from providers.adapters.types import ChatResponse, EmbeddingResponse
from providers.resolution import ResolvedModel


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling, and on behalf of which conversation: kept on every usage record."""

    user_id: int | None = None
    api_key_id: str | None = None
    conversation_id: int | None = None
    request_id: str | None = None  # generated when not given
    end_user: str = ""  # the caller's end user (usage.attribution)
    tags: tuple[str, ...] = ()  # attribution tags: budgets scoped to a tag match on them
    # Skip the response cache's lookup (the answer is still stored): x-cache-bypass: 1.
    cache_bypass: bool = False
    # The caller's answer names no ledger row, so a web worker may write the call's rows after
    # it (usage.services.ledger_writer); a service that keeps request logs writes them inline.
    ledger_write_behind: bool = False


@dataclass(frozen=True, slots=True)
class ChatResult:
    request_id: str
    response: ChatResponse
    served_by: ResolvedModel
    is_fallback: bool
    attempts: int  # attempts made by the whole call, failed ones included
    cost: Decimal | None  # of the attempt that served; None if the model is unpriced
    usage_record_id: int | None  # None when the row is written after the answer
    latency_ms: int  # of the attempt that served
    cache: str = ""  # the response cache: "hit", "miss", or "" when the service caches nothing


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    request_id: str
    response: EmbeddingResponse
    served_by: ResolvedModel
    is_fallback: bool
    attempts: int
    cost: Decimal | None
    usage_record_id: int | None  # None when the row is written after the answer
    latency_ms: int


class ModelNotAvailable(NotFound):
    """A model the consumer's key may not use or that does not exist: 404 without saying
    which, as OpenAI answers."""

    code = "model_not_found"

    @classmethod
    def for_model(cls, name: str) -> "ModelNotAvailable":
        return cls(
            f"The model `{name}` does not exist or you do not have access to it.",
            details={"param": "model"},
        )
