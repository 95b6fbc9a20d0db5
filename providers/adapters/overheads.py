"""Tokens a provider adds around the text it is sent, per provider kind: the prompt overheads
the runtime's spend bounds (chat.runtime.bounds) add to a prompt's UTF-8 length so that a
budget reservation is a true maximum.

The figures belong to the wire a kind speaks, not to who hosts it: Azure OpenAI is OpenAI's
chat completions; Bedrock serves Claude through Anthropic's Messages; Vertex AI serves Claude
(Messages) and Gemini (generateContent) side by side, chosen by the model id as the Vertex
adapter chooses (`vertex_wire`). For a Vertex provider whose model is not known, each figure is
the larger of the two, still an upper bound and tighter than the unknown-kind fallback. No SDK
is imported here: the runtime reads these on every call.
"""

from dataclasses import dataclass, fields
from typing import Literal


@dataclass(frozen=True, slots=True)
class Overheads:
    """Tokens a provider adds around the text it is sent (upper bounds)."""

    per_request: int  # reply priming, the request's framing
    per_message: int  # role markers and separators
    per_tool: int  # a tool's framing beyond its name, description and schema bytes
    tools_prompt: int  # the system prompt a provider adds when tools are offered
    per_image: int  # the most one image can cost


# OpenAI: 3 tokens per message + 3 priming; images at most 1,536 patches x 1.62 (gpt-4.1-mini
# family), above the 1,445 of a high-detail 2048x768 tile image on gpt-4o.
OPENAI = Overheads(per_request=16, per_message=8, per_tool=16, tools_prompt=64, per_image=2600)
# Anthropic: the tool-use system prompt is 346 tokens at most (Claude 4); an image is at most
# about 1,600 tokens (1.15 megapixels / 750).
ANTHROPIC = Overheads(per_request=16, per_message=8, per_tool=16, tools_prompt=512, per_image=1600)
# Gemini: 258 tokens per image tile, 1,120 at the highest media resolution.
GEMINI = Overheads(per_request=16, per_message=8, per_tool=16, tools_prompt=64, per_image=1120)
# OpenAI-compatible servers (vLLM, Ollama, ...): chat templates vary; vision encoders of open
# models can cost more per image, so the figure is the largest here. Also any unknown kind.
OPENAI_COMPATIBLE = Overheads(
    per_request=64, per_message=16, per_tool=32, tools_prompt=512, per_image=4096
)


def _largest(*tables: Overheads) -> Overheads:
    return Overheads(**{f.name: max(getattr(t, f.name) for t in tables) for f in fields(Overheads)})


# Provider kind -> overheads (Vertex: when the model is not known).
OVERHEADS: dict[str, Overheads] = {
    "openai": OPENAI,
    "azure_openai": OPENAI,
    "anthropic": ANTHROPIC,
    "bedrock": ANTHROPIC,
    "gemini": GEMINI,
    "vertex": _largest(ANTHROPIC, GEMINI),
    "openai_compatible": OPENAI_COMPATIBLE,
}


def vertex_wire(model: str) -> Literal["anthropic", "gemini"]:
    """The wire a Vertex AI model speaks: Claude models (`claude-...@date`) Anthropic's
    Messages, every other model Gemini's."""
    return "anthropic" if model.startswith("claude") else "gemini"


def prompt_overheads(kind: str, model: str = "") -> Overheads:
    """The overheads of a provider of `kind` (for Vertex, of the wire `model` speaks when it
    is given); an unknown kind gets the largest figures."""
    if kind == "vertex" and model:
        return ANTHROPIC if vertex_wire(model) == "anthropic" else GEMINI
    return OVERHEADS.get(kind, OPENAI_COMPATIBLE)
