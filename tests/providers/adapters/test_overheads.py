"""Prompt overheads per provider kind (providers.adapters.overheads): each kind has the figures
of the wire it speaks, so no registered kind falls back to the unknown-kind maximum."""

import dataclasses

import pytest

from chat.runtime import bounds
from providers.adapters.overheads import (
    ANTHROPIC,
    GEMINI,
    OPENAI,
    OPENAI_COMPATIBLE,
    OVERHEADS,
    prompt_overheads,
    vertex_wire,
)
from providers.adapters.registry import ADAPTERS
from providers.adapters.types import ChatRequest, Message


def test_every_registered_kind_has_its_own_figures():
    assert set(ADAPTERS) <= set(OVERHEADS)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("openai", OPENAI),
        ("azure_openai", OPENAI),
        ("anthropic", ANTHROPIC),
        ("bedrock", ANTHROPIC),
        ("gemini", GEMINI),
        ("openai_compatible", OPENAI_COMPATIBLE),
        ("no-such-kind", OPENAI_COMPATIBLE),
    ],
)
def test_a_kind_has_the_figures_of_its_wire(kind, expected):
    assert prompt_overheads(kind) == expected


def test_vertex_follows_the_model_as_the_adapter_does():
    assert vertex_wire("claude-sonnet-4-5@20250929") == "anthropic"
    assert vertex_wire("gemini-2.5-flash") == "gemini"
    assert prompt_overheads("vertex", "claude-sonnet-4-5@20250929") == ANTHROPIC
    assert prompt_overheads("vertex", "gemini-2.5-flash") == GEMINI


def test_vertex_without_a_model_bounds_both_of_its_wires():
    unknown = prompt_overheads("vertex")
    for field in dataclasses.fields(unknown):
        value = getattr(unknown, field.name)
        assert value >= getattr(ANTHROPIC, field.name)
        assert value >= getattr(GEMINI, field.name)
        assert value <= getattr(OPENAI_COMPATIBLE, field.name)


def test_the_spend_bounds_count_each_kind_with_its_own_figures():
    """A new kind (Azure, Bedrock, Vertex) is bounded by its wire's overheads, not the
    unknown-kind maximum: one message of 10 bytes costs per_request + per_message + 10."""
    request = ChatRequest(model="m", messages=(Message(role="user", content="0123456789"),))
    for kind in ADAPTERS:
        costs = prompt_overheads(kind)
        assert bounds.prompt_tokens_max(request, kind=kind) == (
            costs.per_request + costs.per_message + 10
        )
    assert bounds.prompt_tokens_max(request, kind="azure_openai") < bounds.prompt_tokens_max(
        request, kind="no-such-kind"
    )
