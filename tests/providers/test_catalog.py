"""The shipped catalog: loading on a fresh database, idempotence, staff edits, price history."""

import copy
import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from providers.catalog import CATALOG_PATH, CatalogError, catalog_parse, catalog_read
from providers.models import ModelConfig, ModelPrice, Origin
from providers.selectors import model_config_list, model_price_at, models_available_list
from providers.services.catalog import model_catalog_load, model_config_update, model_price_set
from tests.providers.catalog_factories import model_create, provider_create

pytestmark = pytest.mark.django_db


def _catalog_data() -> dict:
    return json.loads(CATALOG_PATH.read_text())


def _with_price(data: dict, kind: str, name: str, **amounts: str) -> dict:
    data = copy.deepcopy(data)
    entry = next(m for m in data["presets"][kind]["models"] if m["name"] == name)
    entry["price"].update(amounts)
    return data


def test_the_shipped_catalog_is_dated_and_sourced():
    catalog = catalog_read()
    assert catalog.as_of
    presets = set(catalog.presets)
    assert presets == {
        *("openai", "anthropic", "gemini"),
        *("mistral", "groq", "deepseek", "xai", "together", "openrouter"),
    }
    for preset in presets:
        models = catalog.for_preset(preset)
        assert {m.kind for m in models} >= {"chat"}
        for model in models:
            assert model.price is not None and model.price.source.startswith("https://")
            assert model.price.as_of and isinstance(model.price.input, Decimal)
    assert any(m.kind == "embedding" for m in catalog.for_preset("openai"))
    assert any(m.kind == "embedding" for m in catalog.for_preset("gemini"))


def test_load_on_a_fresh_database_without_providers_does_nothing_and_says_so():
    out = StringIO()
    call_command("load_model_catalog", stdout=out)
    assert ModelConfig.objects.count() == 0
    assert "skipped openai: no provider with this preset is registered yet" in out.getvalue()


def test_load_creates_models_for_every_provider_of_each_kind_and_is_idempotent():
    openai_a = provider_create("openai", "openai")
    openai_b = provider_create("openai-eu", "openai")
    claude = provider_create("claude", "anthropic")
    gemini = provider_create("gemini", "gemini")
    local = provider_create("ollama", "openai_compatible", api_key="")
    catalog = catalog_read()

    out = StringIO()
    call_command("load_model_catalog", stdout=out)

    for provider, kind in ((openai_a, "openai"), (openai_b, "openai"), (claude, "anthropic")):
        names = set(provider.models.values_list("name", flat=True))
        assert names == {m.name for m in catalog.for_preset(kind)}
    assert gemini.models.filter(name="gemini-embedding-001", kind="embedding").exists()
    assert not local.models.exists()
    gpt = ModelConfig.objects.get(provider=openai_a, name="gpt-4.1")
    assert gpt.origin == Origin.CATALOG and gpt.enabled and gpt.context_window == 1047576
    assert gpt.current_price.input == Decimal("2.00")
    assert gpt.current_price.source == Origin.CATALOG
    assert "created: openai:gpt-4.1" in out.getvalue()

    models_before = ModelConfig.objects.count()
    prices_before = ModelPrice.objects.count()
    summary = model_catalog_load()
    assert summary.created == summary.updated == summary.prices_added == []
    assert ModelConfig.objects.count() == models_before
    assert ModelPrice.objects.count() == prices_before == models_before


def test_staff_edits_and_staff_prices_survive_a_reload():
    provider = provider_create("openai", "openai")
    model_catalog_load()
    model = ModelConfig.objects.get(provider=provider, name="gpt-4o")
    model_config_update(model=model, display_name="Our GPT-4o", enabled=False)
    staff_price = model_price_set(
        model=model, input=Decimal("2.00"), output=Decimal("9.00"), cached_input=None
    )
    # The catalog now says something else about the same model.
    data = _with_price(_catalog_data(), "openai", "gpt-4o", input="3.00")
    summary = model_catalog_load(catalog=catalog_parse(data))

    model.refresh_from_db()
    assert model.display_name == "Our GPT-4o" and model.enabled is False
    assert set(model.staff_edited_fields) == {"display_name", "enabled"}
    assert model.current_price.pk == staff_price.pk
    assert "openai:gpt-4o: price" in summary.kept_staff


def test_a_catalog_price_change_adds_a_row_and_keeps_the_old_one():
    provider = provider_create("openai", "openai")
    model_catalog_load()
    model = ModelConfig.objects.get(provider=provider, name="gpt-4.1-mini")
    old = model.current_price
    data = _with_price(_catalog_data(), "openai", "gpt-4.1-mini", input="0.35", output="1.40")

    summary = model_catalog_load(catalog=catalog_parse(data))

    assert summary.prices_added == ["openai:gpt-4.1-mini"]
    assert model.prices.count() == 2
    assert model.current_price.input == Decimal("0.35")
    assert model_price_at(model=model, when=old.effective_from).pk == old.pk


def test_a_price_edit_keeps_the_price_of_earlier_calls():
    provider = provider_create("anthropic-main", "anthropic")
    model = model_create(provider, "claude-haiku-4-5", price=None)
    january = timezone.now() - timedelta(days=60)
    first = model_price_set(
        model=model, input=Decimal("1"), output=Decimal("5"), effective_from=january
    )
    call_time = january + timedelta(days=10)

    second = model_price_set(model=model, input=Decimal("0.80"), output=Decimal("4"))

    assert second is not None and second.source == Origin.STAFF
    assert model_price_at(model=model, when=call_time).pk == first.pk
    assert model_price_at(model=model.pk, when=timezone.now()).pk == second.pk
    assert model_price_at(model=model, when=january - timedelta(days=1)) is None
    assert model_price_set(model=model, input=Decimal("0.8"), output=Decimal("4.0")) is None
    first.input = Decimal("9")
    with pytest.raises(ValueError, match="history"):
        first.save()


def test_a_negative_price_is_refused_with_the_field_named():
    model = model_create(provider_create(), "gpt-x", price=None)
    from config.errors import InvalidInput

    with pytest.raises(InvalidInput) as info:
        model_price_set(model=model, input=Decimal("-1"), output=None)
    assert "input" in info.value.details["fields"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"input": 0.5}, "decimal string"),
        ({"input": "abc"}, "not a number"),
        ({"source": ""}, r"page \(source\)"),
    ],
)
def test_a_malformed_catalog_is_refused_naming_the_entry(change, message):
    data = _with_price(_catalog_data(), "openai", "gpt-4.1", **change)
    with pytest.raises(CatalogError, match=message) as info:
        catalog_parse(data)
    assert "gpt-4.1" in str(info.value)


def test_an_unknown_capability_in_the_catalog_is_refused():
    data = copy.deepcopy(_catalog_data())
    data["presets"]["openai"]["models"][0]["capabilities"] = ["telepathy"]
    with pytest.raises(CatalogError, match="telepathy"):
        catalog_parse(data)


def test_the_model_list_filters_by_capability_kind_and_provider():
    openai = provider_create("openai", "openai")
    claude = provider_create("claude", "anthropic")
    model_create(openai, "reasoner", capabilities=["reasoning", "tools"])
    model_create(openai, "embedder", kind="embedding", capabilities=[])
    model_create(claude, "plain", capabilities=["streaming"])

    assert [m.name for m in model_config_list(capability="reasoning")] == ["reasoner"]
    assert [m.name for m in model_config_list(capability="tools")] == ["reasoner"]
    assert [m.name for m in model_config_list(kind="embedding")] == ["embedder"]
    assert [m.name for m in model_config_list(provider="claude")] == ["plain"]


def test_available_models_are_the_usable_ones_grouped_by_provider():
    openai = provider_create("openai", "openai")
    keyless = provider_create("claude", "anthropic", api_key="")
    inactive = provider_create("gemini", "gemini", is_active=False)
    local = provider_create("ollama", "openai_compatible", api_key="")
    model_create(openai, "usable", price=("0.10", "0.40"))
    model_create(openai, "off", enabled=False)
    model_create(openai, "gone", available=False)
    model_create(keyless, "no-key")
    model_create(inactive, "inactive")
    model_create(local, "llama3")

    groups = models_available_list()

    assert [(g.slug, [m.name for m in g.models]) for g in groups] == [
        ("ollama", ["llama3"]),
        ("openai", ["usable"]),
    ]
    usable = groups[1].models[0]
    assert usable.model_string == "openai:usable"
    assert usable.prices.input == Decimal("0.10") and usable.prices.price_id is not None
    assert models_available_list(model_strings=frozenset({"openai:usable"}))[0].slug == "openai"
