"""Plain, provider-neutral types for requests, responses, stream events and settings.

Usage is kept in non-overlapping buckets so that cost is a plain sum of bucket x price:
- input_tokens: prompt tokens read at the full input price (cache reads and writes excluded)
- cached_input_tokens: prompt tokens read from the provider's prompt cache
- cache_write_tokens: prompt tokens written to the cache (Anthropic's cache_creation)
- output_tokens: generated tokens, reasoning excluded
- reasoning_tokens: hidden reasoning/thinking tokens, billed at the output price
Each adapter documents how its provider's counters map onto these.

Which OpenAI request parameters each provider kind passes, translates, ignores or refuses is
decided in adapters.params and documented in docs/parameters.md.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
REASONING_EFFORTS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh")
# Anthropic's cache_control ({"type": "ephemeral", "ttl": "5m" | "1h"}), kept as sent.
CacheControl = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """What an adapter needs to build an authenticated client. `version` changes on every save."""

    kind: str
    slug: str
    api_key: str = field(default="", repr=False)
    base_url: str | None = None
    organization: str | None = None
    project: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict, repr=False)
    # The kind's own credential fields (providers.credentials): Azure's api_version and Entra
    # token, Bedrock's region and AWS keys, Vertex's project, location and service account.
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 60.0
    max_retries: int = 2
    version: str = ""
    # CIDRs where loopback/private addresses are allowed (PROVIDER_ALLOWED_NETWORKS); None
    # reads the deployment's setting when a connection is opened.
    allowed_networks: tuple[str, ...] | None = None
    # The stored credentials were entered for another kind or base URL: they are withheld
    # (empty above) and building an adapter refuses with ProviderKeyUnboundError.
    credentials_unbound: bool = False


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    type: Literal["text"] = "text"
    cache_control: CacheControl | None = None  # a prompt-cache breakpoint after this part


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image by URL: an https URL or a `data:<media type>;base64,...` URL."""

    url: str
    detail: str | None = None
    type: Literal["image"] = "image"

    @property
    def is_data_url(self) -> bool:
        return self.url.startswith("data:")

    def data_parts(self) -> tuple[str, str]:
        """(media type, base64 data) of a data URL."""
        header, _, data = self.url.partition(",")
        media_type = header.removeprefix("data:").split(";")[0] or "application/octet-stream"
        return media_type, data


ContentPart = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asks for; `arguments` is the JSON text the model produced."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ReasoningPart:
    """A piece of the model's reasoning. Anthropic signs its thinking blocks (`signature`) or
    sends them encrypted (`redacted`) and refuses a tool-use turn whose earlier thinking does not
    come back unchanged, so both ride along; other providers' reasoning is plain text."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None  # Anthropic's redacted_thinking data

    @property
    def signed(self) -> bool:
        return bool(self.signature or self.redacted)


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str | tuple[ContentPart, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # for role "tool": which call this answers
    name: str | None = None  # for role "tool": the tool's name (Gemini needs it)
    # For role "assistant": the reasoning that came with this turn, to send back.
    reasoning: tuple[ReasoningPart, ...] = ()
    # A prompt-cache breakpoint after this whole message (Anthropic).
    cache_control: CacheControl | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    cache_control: CacheControl | None = None  # a prompt-cache breakpoint after this tool


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """auto: the model decides; none: no tools; required: some tool; tool: the named one."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    json_output: bool = False
    json_schema: dict[str, Any] | None = None
    reasoning_effort: ReasoningEffort | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None  # the end user, for the provider's abuse monitoring
    metadata: dict[str, str] | None = None
    service_tier: str | None = None
    # Cache the system prompt and tools (a selection's option): Anthropic gets cache_control
    # breakpoints after them; other providers cache prompts on their own.
    cache_prompt: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def prompt_tokens(self) -> int:
        """All prompt tokens, as OpenAI reports prompt_tokens."""
        return self.input_tokens + self.cached_input_tokens + self.cache_write_tokens

    @property
    def completion_tokens(self) -> int:
        """All generated tokens, reasoning included, as OpenAI reports completion_tokens."""
        return self.output_tokens + self.reasoning_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ChatResponse:
    text: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: FinishReason
    usage: Usage
    model: str
    request_id: str | None = None
    reasoning: tuple[ReasoningPart, ...] = ()
    logprobs: dict[str, Any] | None = None  # OpenAI's choice.logprobs, as sent

    @property
    def reasoning_text(self) -> str:
        return "".join(part.text for part in self.reasoning)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    type: Literal["text_delta"] = "text_delta"
    logprobs: dict[str, Any] | None = None  # OpenAI's chunk choice.logprobs, as sent


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Reasoning text as it streams; `part` is a finished block to send back (a signed or
    redacted Anthropic thinking block), carried whole once its signature has arrived."""

    text: str = ""
    part: ReasoningPart | None = None
    type: Literal["reasoning_delta"] = "reasoning_delta"


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of tool call `index`; id and name arrive once, arguments in pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    type: Literal["tool_call_delta"] = "tool_call_delta"


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """Cumulative usage so far; the last one of a stream is the call's usage."""

    usage: Usage
    type: Literal["usage"] = "usage"


@dataclass(frozen=True, slots=True)
class Finish:
    finish_reason: FinishReason
    model: str = ""
    request_id: str | None = None
    type: Literal["finish"] = "finish"


StreamEvent = TextDelta | ReasoningDelta | ToolCallDelta | UsageEvent | Finish


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str
    inputs: tuple[str, ...]
    dimensions: int | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingResponse:
    vectors: tuple[tuple[float, ...], ...]
    usage: Usage
    model: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteModel:
    """A model as the provider lists it."""

    id: str
    display_name: str = ""
    kind: Literal["chat", "embedding", "unknown"] = "unknown"
    context_window: int | None = None
    max_output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    latency_ms: int
    model_count: int = 0
    message: str = ""
