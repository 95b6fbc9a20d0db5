"""Model selections: the one validation, upsert/update with audit rows, and resolution."""

from decimal import Decimal

import pytest

from config.errors import InvalidInput, NotFound
from providers.models import SelectionChange
from providers.selectors import NoUsableModel, model_selection_resolve
from providers.services.selection import model_selection_update, model_selection_upsert
from providers.services.selection_audit import model_selection_delete
from tests.providers.catalog_factories import model_create, provider_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def models():
    openai = provider_create("openai", "openai")
    claude = provider_create("claude", "anthropic")
    return {
        "gpt": model_create(openai, "gpt-big", context_window=200_000, price=("2", "8")),
        "mini": model_create(openai, "gpt-mini", context_window=200_000),
        "small": model_create(openai, "gpt-small", context_window=16_000),
        "plain": model_create(openai, "gpt-plain", capabilities=["streaming"]),
        "off": model_create(openai, "gpt-off", enabled=False),
        "gone": model_create(openai, "gpt-gone", available=False),
        "embed": model_create(openai, "embed-small", kind="embedding", capabilities=[]),
        "embed2": model_create(openai, "embed-large", kind="embedding", capabilities=[]),
        "claude": model_create(claude, "claude-x", context_window=200_000),
        "nokey": model_create(
            provider_create("anthropic-nokey", "anthropic", api_key=""), "claude-y"
        ),
        "inactive": model_create(provider_create("gemini", "gemini", is_active=False), "gemini-z"),
        "local": model_create(
            provider_create("ollama", "openai_compatible", api_key=""),
            "llama",
            context_window=200_000,
        ),
    }


def _refused(**kwargs) -> dict[str, list[str]]:
    kwargs.setdefault("service", "rag_agent")
    with pytest.raises(InvalidInput) as info:
        model_selection_upsert(actor=None, **kwargs)
    return info.value.details["fields"]


@pytest.mark.parametrize(
    "kwargs, field, words",
    [
        ({"primary": "gpt-big"}, "primary", "Malformed model string"),
        ({"primary": "nowhere:gpt-big"}, "primary", "Unknown provider 'nowhere'"),
        ({"primary": "openai:gpt-nope"}, "primary", "Unknown model 'gpt-nope'"),
        ({"primary": "openai:gpt-off"}, "primary", "openai:gpt-off is disabled"),
        ({"primary": "openai:gpt-gone"}, "primary", "no longer listed"),
        ({"primary": "gemini:gemini-z"}, "primary", "provider gemini is inactive"),
        ({"primary": "anthropic-nokey:claude-y"}, "primary", "has no API key"),
        (
            {"primary": "openai:gpt-plain", "required_capabilities": ["tools"]},
            "primary",
            "lacks the required capability tools",
        ),
        (
            {
                "primary": "openai:gpt-big",
                "fallbacks": ["openai:gpt-plain"],
                "required_capabilities": ["tools"],
            },
            "fallbacks",
            "Fallback openai:gpt-plain lacks the required capability tools",
        ),
        (
            {"primary": "openai:gpt-big", "fallbacks": ["openai:embed-small"]},
            "fallbacks",
            "is an embedding model but the primary openai:gpt-big is a chat model",
        ),
        (
            {"primary": "openai:embed-small", "fallbacks": ["openai:gpt-mini"]},
            "fallbacks",
            "kinds must match",
        ),
        (
            {"primary": "openai:gpt-big", "service": "embeddings"},
            "primary",
            "needs an embedding model",
        ),
        (
            {"primary": "openai:gpt-big", "fallbacks": ["openai:gpt-small"]},
            "fallbacks",
            "context window of 16000 tokens, smaller than the required minimum of 200000",
        ),
        (
            {"primary": "openai:gpt-mini", "min_context_window": 500_000},
            "primary",
            "below the required minimum of 500000",
        ),
        (
            {"primary": "openai:gpt-big", "fallbacks": ["openai:gpt-mini", "openai:gpt-mini"]},
            "fallbacks",
            "openai:gpt-mini appears twice",
        ),
        (
            {"primary": "openai:gpt-big", "fallbacks": ["openai:gpt-big"]},
            "fallbacks",
            "openai:gpt-big appears twice",
        ),
        (
            {"primary": "openai:gpt-big", "fallbacks": ["openai:gpt-off"]},
            "fallbacks",
            "Fallback openai:gpt-off cannot be used: openai:gpt-off is disabled",
        ),
        ({"primary": "openai:gpt-big", "overrides": {"temperature": 2.5}}, "temperature", "0 to 2"),
        (
            {"primary": "openai:gpt-big", "overrides": {"temperature": True}},
            "temperature",
            "0 to 2",
        ),
        ({"primary": "openai:gpt-big", "overrides": {"top_p": -0.1}}, "top_p", "0 to 1"),
        ({"primary": "openai:gpt-big", "overrides": {"max_tokens": 0}}, "max_tokens", "at least 1"),
        (
            {"primary": "openai:gpt-big", "overrides": {"seed": 1}},
            "overrides",
            "Unknown parameter seed",
        ),
        (
            {"primary": "openai:gpt-big", "required_capabilities": ["telepathy"]},
            "required_capabilities",
            "Unknown capability telepathy",
        ),
        ({"primary": "openai:gpt-big", "service": "Bad Name"}, "service", "lowercase"),
    ],
)
def test_a_bad_selection_is_refused_with_a_message_naming_the_problem(models, kwargs, field, words):
    errors = _refused(**kwargs)
    assert any(words in message for message in errors[field]), errors
    assert not SelectionChange.objects.exists()


def test_an_unknown_primary_still_reports_parameter_errors(models):
    errors = _refused(primary="x:y", overrides={"temperature": 9})
    assert set(errors) == {"primary", "temperature"}


def test_an_openai_compatible_provider_may_run_without_a_key(models):
    selection = model_selection_upsert(service="local", primary="ollama:llama", actor=None)
    assert selection.primary == models["local"]


def test_upsert_creates_then_replaces_and_every_change_is_audited(models, staff_user):
    selection = model_selection_upsert(
        service="rag_agent",
        primary="openai:gpt-big",
        fallbacks=["openai:gpt-mini", "claude:claude-x"],
        overrides={"temperature": 0.2, "system_prompt": "Be brief."},
        required_capabilities=["tools"],
        min_context_window=100_000,
        description="Answers from documents",
        actor=staff_user,
    )
    assert [m.model_string for m in selection.fallback_list()] == [
        "openai:gpt-mini",
        "claude:claude-x",
    ]
    created = SelectionChange.objects.get()
    assert created.action == "created" and created.changed_by == staff_user
    assert created.before is None and created.after["fallbacks"][1] == "claude:claude-x"
    assert created.source == "api"

    model_selection_upsert(
        service="rag_agent", primary="claude:claude-x", fallbacks=["openai:gpt-big"], actor=None
    )
    updated = SelectionChange.objects.order_by("-id").first()
    assert updated.action == "updated"
    assert updated.before["primary"] == "openai:gpt-big"
    assert updated.after["primary"] == "claude:claude-x"
    assert updated.after["temperature"] is None  # PUT semantics: omitted overrides are cleared
    assert updated.after["system_prompt"] == ""


def test_update_changes_only_what_is_given_and_a_no_op_writes_no_audit_row(models, staff_user):
    selection = model_selection_upsert(
        service="rag_agent",
        primary="openai:gpt-big",
        fallbacks=["openai:gpt-mini"],
        overrides={"temperature": 0.2, "max_tokens": 500},
        actor=staff_user,
    )
    model_selection_update(selection=selection, actor=staff_user, overrides={"temperature": 1.0})
    selection.refresh_from_db()
    assert (selection.temperature, selection.max_tokens) == (1.0, 500)
    assert [m.name for m in selection.fallback_list()] == ["gpt-mini"]
    assert SelectionChange.objects.count() == 2

    model_selection_update(selection=selection, actor=staff_user, description="")
    assert SelectionChange.objects.count() == 2

    with pytest.raises(InvalidInput) as info:
        model_selection_update(selection=selection, actor=staff_user, fallbacks=["openai:gpt-off"])
    assert "disabled" in info.value.details["fields"]["fallbacks"][0]
    with pytest.raises(InvalidInput):
        model_selection_update(selection=selection, actor=staff_user, service="renamed")


def test_delete_is_audited(models, staff_user):
    selection = model_selection_upsert(service="rag_agent", primary="openai:gpt-big", actor=None)
    model_selection_delete(selection=selection, actor=staff_user)
    row = SelectionChange.objects.order_by("-id").first()
    assert (row.action, row.service, row.after, row.changed_by) == (
        "deleted",
        "rag_agent",
        None,
        staff_user,
    )


# -- resolution ---------------------------------------------------------------------------
def test_a_service_resolves_to_its_usable_chain_with_prices_and_overrides(
    models, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        model_selection_upsert(
            service="rag_agent",
            primary="openai:gpt-big",
            fallbacks=["openai:gpt-mini", "claude:claude-x"],
            overrides={"max_tokens": 300},
            required_capabilities=["tools"],
            actor=None,
        )
        # Later, a fallback's provider loses its key: it is skipped, not an error.
        claude = models["claude"].provider
        claude.api_key = ""
        claude.save()

    resolved = model_selection_resolve(name="rag_agent")

    assert resolved.service == "rag_agent"
    assert [c.model_string for c in resolved.candidates] == ["openai:gpt-big", "openai:gpt-mini"]
    first = resolved.candidates[0]
    assert first.prices.input == Decimal("2") and first.prices.price_id is not None
    assert first.provider_version == models["gpt"].provider.to_settings().version
    assert first.provider_max_retries == 2 and "tools" in first.capabilities
    assert resolved.overrides.max_tokens == 300
    assert resolved.required_capabilities == frozenset({"tools"})


def test_a_model_string_resolves_to_that_model_alone(models):
    resolved = model_selection_resolve(name="claude:claude-x")
    assert resolved.service is None
    assert [c.model_string for c in resolved.candidates] == ["claude:claude-x"]
    assert resolved.overrides.temperature is None


@pytest.mark.parametrize(
    "name, words",
    [
        ("openai:gpt-off", "is disabled"),
        ("openai:", "Malformed model string"),
        ("nowhere:x", "Unknown provider"),
        ("openai:missing", "Unknown model"),
    ],
)
def test_a_bad_model_string_is_invalid_input(models, name, words):
    with pytest.raises(InvalidInput, match=words):
        model_selection_resolve(name=name)


def test_an_unknown_service_is_not_found_listing_the_valid_ones(models):
    model_selection_upsert(service="rag_agent", primary="openai:gpt-big", actor=None)
    model_selection_upsert(service="document_agent", primary="openai:gpt-mini", actor=None)
    with pytest.raises(NotFound) as info:
        model_selection_resolve(name="nope")
    assert info.value.details["valid_services"] == ["document_agent", "rag_agent"]
    assert "document_agent, rag_agent" in info.value.message


def test_a_service_with_no_usable_model_says_why(models, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        selection = model_selection_upsert(
            service="rag_agent", primary="openai:gpt-big", actor=None
        )
        selection.primary.enabled = False
        selection.primary.save()
    with pytest.raises(NoUsableModel, match="openai:gpt-big is disabled") as info:
        model_selection_resolve(name="rag_agent")
    assert info.value.http_status == 503
