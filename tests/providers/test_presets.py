"""Provider presets: a preset fills the kind and base URL and brings its own catalog, and the
catalog is keyed by preset, so one service's models never land on another's provider."""

import importlib
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.management import call_command

from providers.catalog import CatalogError, catalog_parse, catalog_read
from providers.models import ModelConfig, ModelPrice, ProviderConfig, ProviderKind
from providers.presets import PRESETS, PRESETS_BY_SLUG, preset_defaults
from providers.selectors import provider_unusable_reason
from providers.services.catalog import model_catalog_load, models_sync
from providers.services.provider import provider_create, provider_update
from tests.providers.catalog_factories import model_create
from tests.providers.catalog_factories import provider_create as provider_row

pytestmark = pytest.mark.django_db

KEY = "sk-test-preset-0123456789abcdef"
COMPATIBLE = "openai_compatible"


def _names(provider: ProviderConfig) -> set[str]:
    return set(provider.models.values_list("name", flat=True))


def _catalog_names(preset: str) -> set[str]:
    return {m.name for m in catalog_read().for_preset(preset)}


# -- the registry and the catalog file ----------------------------------------------------------
def test_every_preset_speaks_a_known_kind_and_the_hosted_ones_have_an_https_base_url():
    for preset in PRESETS:
        assert preset.kind in ProviderKind.values, preset
        if preset.kind == COMPATIBLE:
            assert preset.base_url.startswith("https://" if preset.key_required else "http://")
        else:
            assert preset.slug == preset.kind and preset.base_url == ""  # the SDK's default
    assert {p.slug for p in PRESETS if not p.key_required} == {"ollama", "vllm"}


def test_the_catalog_is_keyed_by_preset_and_the_self_hosted_ones_have_none():
    catalog = catalog_read()
    assert set(catalog.presets) <= set(PRESETS_BY_SLUG)
    assert {"mistral", "groq", "deepseek", "xai", "together", "openrouter"} <= set(catalog.presets)
    assert not catalog.for_preset("ollama") and not catalog.for_preset("vllm")
    for preset in ("mistral", "groq", "deepseek", "xai", "together", "openrouter"):
        models = catalog.for_preset(preset)
        assert len(models) >= 2, preset
        for model in models:
            assert model.price is not None and isinstance(model.price.input, Decimal)
            assert model.price.source.startswith("https://") and model.price.as_of


def test_an_unknown_preset_block_is_refused_and_an_older_kinds_file_still_reads():
    with pytest.raises(CatalogError, match="Unknown preset 'cohere'"):
        catalog_parse({"presets": {"cohere": {"models": [{"name": "command"}]}}})
    old = catalog_parse({"kinds": {"openai": {"models": [{"name": "gpt-x"}]}}})
    assert [(m.preset, m.name) for m in old.models] == [("openai", "gpt-x")]


def test_preset_defaults_fill_only_blanks():
    assert preset_defaults(preset="groq", kind="", base_url="") == (
        "groq",
        COMPATIBLE,
        "https://api.groq.com/openai/v1",
    )
    typed = preset_defaults(preset="ollama", kind="", base_url="http://gpu-01:11434/v1")
    assert typed == ("ollama", COMPATIBLE, "http://gpu-01:11434/v1")
    assert preset_defaults(preset="", kind="anthropic", base_url="") == ("anthropic",) * 2 + ("",)
    assert preset_defaults(preset="", kind=COMPATIBLE, base_url="http://x") == (
        "",
        COMPATIBLE,
        "http://x",
    )
    # A preset of another kind fills nothing: the model's clean() refuses the pair.
    assert preset_defaults(preset="mistral", kind="openai", base_url="") == (
        "mistral",
        "openai",
        "",
    )


# -- creating providers -------------------------------------------------------------------------
def test_a_preset_fills_the_kind_and_base_url_and_brings_its_priced_catalog():
    provider, summary = provider_create(
        data={"slug": "mistral", "preset": "mistral", "name": "Mistral", "api_key": KEY}
    )

    assert (provider.kind, provider.base_url) == (COMPATIBLE, "https://api.mistral.ai/v1")
    assert _names(provider) == _catalog_names("mistral")
    assert sorted(summary.created) == sorted(f"mistral:{n}" for n in _catalog_names("mistral"))
    large = ModelConfig.objects.get(provider=provider, name="mistral-large-latest")
    entry = next(m for m in catalog_read().for_preset("mistral") if m.name == large.name)
    assert large.current_price.input == entry.price.input
    assert isinstance(large.current_price.output, Decimal)
    assert provider.credentials_bound()  # bound to the filled-in base URL


def test_a_typed_base_url_wins_over_the_presets():
    provider, _ = provider_create(
        data={
            "slug": "groq-proxy",
            "preset": "groq",
            "name": "Groq via our proxy",
            "base_url": "http://127.0.0.1:9/openai/v1",
            "api_key": KEY,
        }
    )
    assert provider.base_url == "http://127.0.0.1:9/openai/v1"
    assert _names(provider) == _catalog_names("groq")


@pytest.mark.parametrize(
    "data",
    [
        {"kind": COMPATIBLE, "base_url": "http://127.0.0.1:9/v1"},  # a server of its own
        {"preset": "ollama", "base_url": "http://127.0.0.1:11434/v1"},
        {"preset": "vllm"},  # the default base URL (localhost), allowed in tests
    ],
)
def test_self_hosted_and_plain_compatible_providers_get_no_catalog_models(data):
    provider, summary = provider_create(data={"slug": "local", "name": "Local", **data})
    assert summary.created == [] and not provider.models.exists()

    call_command("load_model_catalog", stdout=StringIO())

    assert not provider.models.exists()  # nothing of Mistral, Groq or OpenAI lands on it


def test_the_official_kinds_are_their_own_preset_and_keep_their_catalog():
    for kind in ("openai", "anthropic", "gemini"):
        provider, _ = provider_create(
            data={"slug": f"{kind}-main", "kind": kind, "name": kind, "api_key": KEY}
        )
        assert (provider.preset, provider.base_url) == (kind, "")
        assert _names(provider) == _catalog_names(kind)
    # However the row is made: a direct save fills it too.
    assert provider_row("claude", "anthropic").preset == "anthropic"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"kind": "openai", "preset": "mistral"}, "preset"),  # Mistral is not the OpenAI wire
        ({"kind": "anthropic", "preset": "openai"}, "preset"),
        ({"kind": COMPATIBLE, "preset": "openai"}, "preset"),
        ({"preset": "cohere"}, "preset"),
        ({}, "kind"),
    ],
)
def test_a_preset_that_does_not_fit_is_refused_on_its_field(data, field):
    with pytest.raises(ValidationError) as info:
        provider_create(data={"slug": "bad", "name": "Bad", "api_key": KEY, **data})
    assert field in info.value.message_dict
    assert not ProviderConfig.objects.filter(slug="bad").exists()


def test_a_preset_says_whether_a_key_is_needed():
    mistral = provider_row("mistral", COMPATIBLE, preset="mistral", api_key="")
    ollama = provider_row("ollama", COMPATIBLE, preset="ollama", api_key="")
    plain = provider_row("plain", COMPATIBLE, api_key="")
    assert provider_unusable_reason(provider=mistral) == "provider mistral has no API key"
    assert provider_unusable_reason(provider=ollama) is None
    assert provider_unusable_reason(provider=plain) is None  # as before presets


# -- loading and syncing ------------------------------------------------------------------------
def test_load_model_catalog_fills_each_preset_only_and_is_idempotent():
    openai = provider_row("openai", "openai")
    mistral = provider_row("mistral", COMPATIBLE, preset="mistral")
    groq = provider_row("groq", COMPATIBLE, preset="groq")
    plain = provider_row("plain", COMPATIBLE)

    out = StringIO()
    call_command("load_model_catalog", stdout=out)

    assert _names(openai) == _catalog_names("openai")
    assert _names(mistral) == _catalog_names("mistral")
    assert _names(groq) == _catalog_names("groq")
    assert not plain.models.exists()
    assert "skipped deepseek: no provider with this preset is registered yet" in out.getvalue()
    counts = (ModelConfig.objects.count(), ModelPrice.objects.count())

    summary = model_catalog_load()

    assert summary.created == summary.updated == summary.prices_added == []
    assert (ModelConfig.objects.count(), ModelPrice.objects.count()) == counts


def test_sync_prices_a_listed_model_only_from_the_providers_own_preset(openai_fake):
    base_url = f"{openai_fake.url}/v1"
    fields = {"base_url": base_url, "api_key": openai_fake.api_key, "timeout_seconds": 5}
    mistral = provider_row("mistral", COMPATIBLE, preset="mistral", **fields)
    plain = provider_row("plain", COMPATIBLE, **fields)
    openai_fake.models = ["mistral-small-latest", "gpt-4.1-mini"]

    models_sync(provider=mistral)
    models_sync(provider=plain)

    small = ModelConfig.objects.get(provider=mistral, name="mistral-small-latest")
    assert small.current_price is not None and "tools" in small.capabilities
    # A server of one's own listing the same id borrows nothing from the Mistral catalog...
    bare = ModelConfig.objects.get(provider=plain, name="mistral-small-latest")
    assert (bare.capabilities, bare.context_window, bare.current_price) == ([], None, None)
    # ...and, as before presets, only the official catalogs' descriptions, never a price.
    borrowed = ModelConfig.objects.get(provider=plain, name="gpt-4.1-mini")
    assert "tools" in borrowed.capabilities and borrowed.current_price is None


# -- changing the preset ------------------------------------------------------------------------
def test_a_preset_may_be_set_on_a_provider_that_had_none_and_then_brings_its_catalog():
    provider = provider_row("deepseek", COMPATIBLE, base_url="https://api.deepseek.com")
    model_create(provider, "deepseek-v4-flash", price=None)  # synced before the preset

    provider = provider_update(provider=provider, data={"preset": "deepseek"})
    model_catalog_load(provider=provider)

    assert provider.preset == "deepseek" and provider.base_url == "https://api.deepseek.com"
    assert _names(provider) == _catalog_names("deepseek")


def test_the_preset_cannot_change_while_models_depend_on_it():
    provider = provider_row("mistral", COMPATIBLE, preset="mistral")
    model_create(provider, "mistral-small-latest")
    for preset in ("groq", ""):
        with pytest.raises(ValidationError) as info:
            provider_update(provider=provider, data={"preset": preset})
        assert "preset" in info.value.message_dict
    empty = provider_row("empty", COMPATIBLE, preset="mistral")
    assert provider_update(provider=empty, data={"preset": "groq"}).preset == "groq"


def test_moving_to_a_presets_base_url_needs_the_key_again():
    provider = provider_row("svc", COMPATIBLE, base_url="http://127.0.0.1:9/v1", api_key=KEY)
    with pytest.raises(ValidationError) as info:
        provider_update(provider=provider, data={"preset": "groq", "base_url": ""})
    assert "api_key" in info.value.message_dict
    moved = provider_update(
        provider=provider, data={"preset": "groq", "base_url": "", "api_key": KEY}
    )
    assert moved.base_url == "https://api.groq.com/openai/v1" and moved.credentials_bound()


# -- the data migration -------------------------------------------------------------------------
def test_the_migration_gives_existing_providers_the_preset_they_are():
    migration = importlib.import_module("providers.migrations.0009_provider_preset")
    rows = {
        "oa": provider_row("oa", "openai"),
        "oa-gw": provider_row("oa-gw", "openai", base_url="https://gateway.example/v1"),
        "claude": provider_row("claude", "anthropic"),
        "mis": provider_row("mis", COMPATIBLE, base_url="https://API.mistral.ai/v1"),
        "router": provider_row("router", COMPATIBLE, base_url="https://openrouter.ai/api/v1"),
        "ollama": provider_row("ollama", COMPATIBLE, base_url="http://127.0.0.1:11434/v1"),
        "vllm": provider_row("vllm", COMPATIBLE, base_url="http://gpu-01:8000/v1"),
    }
    ProviderConfig.objects.update(preset="")  # as before the migration

    migration.presets_guess(django_apps, None)

    found = dict(ProviderConfig.objects.values_list("slug", "preset"))
    assert found == {
        "oa": "openai",
        "oa-gw": "openai",  # kind openai is OpenAI itself, through a gateway here
        "claude": "anthropic",
        "mis": "mistral",
        "router": "openrouter",
        "ollama": "",  # a server of one's own is not guessed
        "vllm": "",
    }
    assert set(rows) == set(found)
