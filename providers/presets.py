"""Provider presets: the services staff register by name, and the key of the model catalog.

A preset is a known service: which wire protocol (provider kind) it speaks, where its API is,
whether it needs a key, and which catalog block (models and prices) belongs to it. The
catalog is keyed by preset, not by kind, because one kind covers many services: every
OpenAI-compatible server speaks kind `openai_compatible`, yet Mistral's models and prices must
never land on an Ollama server or on a company's own vLLM.

The official providers are presets too (`openai`, `anthropic`, `gemini`): a provider of one of
those kinds always has the preset of the same name, so their catalogs behave as before. An
OpenAI-compatible provider has one of the other presets, or none (a server of its own: it gets
no catalog models, only what its live model list reports).

Adding a service is a row here (and, if it has a priced catalog, a block in
`catalog/model_catalog.json`); the model field's choices are read from this table, so no
migration is needed.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Preset:
    slug: str
    name: str
    kind: str  # the provider kind (wire protocol), a ProviderKind value
    base_url: str  # filled in when staff leave the base URL blank; "" = the SDK's default
    key_required: bool
    docs: str  # a short note for staff: where the key comes from, what the base URL is


OPENAI_COMPATIBLE = "openai_compatible"

PRESETS: tuple[Preset, ...] = (
    Preset("openai", "OpenAI", "openai", "", True, "platform.openai.com API key."),
    Preset("anthropic", "Anthropic", "anthropic", "", True, "console.anthropic.com API key."),
    Preset("gemini", "Google Gemini", "gemini", "", True, "Google AI Studio API key."),
    Preset(
        "mistral",
        "Mistral AI",
        OPENAI_COMPATIBLE,
        "https://api.mistral.ai/v1",
        True,
        "La Plateforme (console.mistral.ai) API key.",
    ),
    Preset(
        "groq",
        "Groq",
        OPENAI_COMPATIBLE,
        "https://api.groq.com/openai/v1",
        True,
        "GroqCloud (console.groq.com) API key.",
    ),
    Preset(
        "deepseek",
        "DeepSeek",
        OPENAI_COMPATIBLE,
        "https://api.deepseek.com",
        True,
        "platform.deepseek.com API key.",
    ),
    Preset(
        "xai",
        "xAI (Grok)",
        OPENAI_COMPATIBLE,
        "https://api.x.ai/v1",
        True,
        "console.x.ai API key.",
    ),
    Preset(
        "together",
        "Together AI",
        OPENAI_COMPATIBLE,
        "https://api.together.xyz/v1",
        True,
        "together.ai API key.",
    ),
    Preset(
        "openrouter",
        "OpenRouter",
        OPENAI_COMPATIBLE,
        "https://openrouter.ai/api/v1",
        True,
        "openrouter.ai key; model ids name their vendor (openai/gpt-4o-mini).",
    ),
    Preset(
        "ollama",
        "Ollama",
        OPENAI_COMPATIBLE,
        "http://localhost:11434/v1",
        False,
        "A local Ollama server; no key. Models come from its live list (Sync models). A "
        "private address must be allowed in PROVIDER_ALLOWED_NETWORKS.",
    ),
    Preset(
        "vllm",
        "vLLM",
        OPENAI_COMPATIBLE,
        "http://localhost:8000/v1",
        False,
        "A vLLM server (vllm serve); a key only if started with --api-key. Models come from "
        "its live list (Sync models). A private address must be allowed in "
        "PROVIDER_ALLOWED_NETWORKS.",
    ),
)
PRESETS_BY_SLUG: dict[str, Preset] = {p.slug: p for p in PRESETS}


def preset_get(slug: str) -> Preset | None:
    return PRESETS_BY_SLUG.get(slug)


def preset_choices() -> list[tuple[str, str]]:
    """The choices of `ProviderConfig.preset` (a callable, so a new preset needs no migration)."""
    return [(p.slug, p.name) for p in PRESETS]


def preset_for_kind(kind: str) -> str:
    """The preset a provider of `kind` must have when it is an official provider's kind (its
    own name), else "" (an OpenAI-compatible provider chooses, or has none)."""
    preset = PRESETS_BY_SLUG.get(kind)
    return preset.slug if preset is not None and preset.kind == kind else ""


def preset_defaults(*, preset: str, kind: str, base_url: str) -> tuple[str, str, str]:
    """(preset, kind, base_url) with the blanks filled: a preset gives its kind and its base
    URL (only where none is typed, and only for its own kind); an official kind gives its
    preset. A filled value is never replaced: a typed base URL wins over the preset's."""
    found = PRESETS_BY_SLUG.get(preset)
    if found is not None:
        kind = kind or found.kind
        if not base_url and kind == found.kind:
            base_url = found.base_url
    return preset or preset_for_kind(kind), kind, base_url


def preset_problem(*, preset: str, kind: str) -> str | None:
    """Why `preset` cannot go with `kind`, or None when they fit."""
    found = PRESETS_BY_SLUG.get(preset)
    if found is None or not kind or found.kind == kind:
        return None  # blank or fitting; an unknown one is refused by the field's choices
    return f"The preset {preset} is a provider of kind {found.kind}, not {kind}."
