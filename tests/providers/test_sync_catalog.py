"""Synced models take capabilities, limits and prices from the catalog when it knows them."""

from decimal import Decimal

import pytest

from providers.catalog import catalog_read
from providers.models import ModelConfig, Origin
from providers.services.catalog import models_sync
from tests.providers.catalog_factories import provider_create

pytestmark = pytest.mark.django_db


def _catalog_entry(kind: str, name: str):
    return next(m for m in catalog_read().for_preset(kind) if m.name == name)


def _provider(openai_fake, slug: str, kind: str):
    return provider_create(
        slug, kind, base_url=f"{openai_fake.url}/v1", api_key=openai_fake.api_key, timeout_seconds=5
    )


def test_new_models_known_to_the_catalog_arrive_described_and_priced(openai_fake):
    provider = _provider(openai_fake, "openai", "openai")  # no catalog load: sync alone
    openai_fake.models = ["gpt-4.1", "gpt-4o-2024-08-06", "brand-new-chat"]

    result = models_sync(provider=provider).results[0]

    assert result.error == "" and len(result.added) == 3
    gpt41 = ModelConfig.objects.get(provider=provider, name="gpt-4.1")
    entry = _catalog_entry("openai", "gpt-4.1")
    assert gpt41.capabilities == list(entry.capabilities) and "tools" in gpt41.capabilities
    assert gpt41.context_window == entry.context_window
    assert gpt41.max_output_tokens == entry.max_output_tokens
    assert gpt41.display_name == entry.display_name
    assert (gpt41.enabled, gpt41.origin) == (False, Origin.SYNCED)  # still staff's choice
    price = gpt41.current_price
    assert price.source == Origin.CATALOG
    assert (price.input, price.output) == (entry.price.input, entry.price.output)
    assert price.input == Decimal("2.00")

    snapshot = ModelConfig.objects.get(provider=provider, name="gpt-4o-2024-08-06")
    gpt4o = _catalog_entry("openai", "gpt-4o")
    assert snapshot.context_window == gpt4o.context_window
    assert snapshot.capabilities == list(gpt4o.capabilities)
    assert snapshot.current_price.output == gpt4o.price.output

    unknown = ModelConfig.objects.get(provider=provider, name="brand-new-chat")
    assert (unknown.capabilities, unknown.context_window, unknown.current_price) == ([], None, None)


def test_an_openai_compatible_server_gets_capabilities_and_limits_but_no_price(openai_fake):
    provider = _provider(openai_fake, "proxy", "openai_compatible")
    openai_fake.models = ["gpt-4.1-mini"]

    models_sync(provider=provider)

    model = ModelConfig.objects.get(provider=provider, name="gpt-4.1-mini")
    entry = _catalog_entry("openai", "gpt-4.1-mini")
    assert model.capabilities == list(entry.capabilities)
    assert model.context_window == entry.context_window
    assert model.current_price is None  # that host's price is not the catalog's


def test_a_model_synced_bare_is_completed_later_without_touching_staff_fields(openai_fake):
    provider = _provider(openai_fake, "openai", "openai")
    bare = ModelConfig.objects.create(
        provider=provider, name="gpt-4.1", origin=Origin.SYNCED, kind="chat", enabled=False
    )
    edited = ModelConfig.objects.create(
        provider=provider,
        name="gpt-4o",
        origin=Origin.SYNCED,
        kind="chat",
        capabilities=["streaming"],
        staff_edited_fields=["capabilities"],
    )
    openai_fake.models = ["gpt-4.1", "gpt-4o"]

    models_sync(provider=provider)

    bare.refresh_from_db()
    assert "tools" in bare.capabilities and bare.context_window == 1047576
    assert bare.current_price is not None and bare.current_price.source == Origin.CATALOG
    edited.refresh_from_db()
    assert edited.capabilities == ["streaming"]
    assert edited.context_window == _catalog_entry("openai", "gpt-4o").context_window
    # A second sync changes nothing more.
    again = models_sync(provider=provider).results[0]
    assert again.unchanged == 2
    assert bare.prices.count() == 1
