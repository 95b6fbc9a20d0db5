"""Live model sync against the OpenAI fake, through the real SDK and adapter."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from providers.models import ModelConfig, Origin, ProviderConfig
from providers.services.catalog import model_catalog_load, model_price_set, models_sync
from tests.providers.catalog_factories import provider_create

pytestmark = pytest.mark.django_db


def _fake_provider(openai_fake, slug: str = "openai", **fields) -> ProviderConfig:
    fields.setdefault("api_key", openai_fake.api_key)
    return provider_create(
        slug, "openai", base_url=f"{openai_fake.url}/v1", timeout_seconds=5, **fields
    )


def test_sync_adds_new_models_disabled_and_flags_vanished_ones(openai_fake):
    provider = _fake_provider(openai_fake)
    model_catalog_load()
    gpt4o = ModelConfig.objects.get(provider=provider, name="gpt-4o")
    staff_price = model_price_set(model=gpt4o, input=Decimal("2.20"), output=Decimal("9.90"))
    openai_fake.models = [
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4o-2024-08-06",  # a dated snapshot: its alias gpt-4o is still listed
        "brand-new-chat",
        "text-embedding-3-small",
        "text-embedding-9-huge",
    ]

    result = models_sync(provider=provider).results[0]

    assert result.error == ""
    assert set(result.added) == {
        "openai:gpt-4o-2024-08-06",
        "openai:brand-new-chat",
        "openai:text-embedding-9-huge",
    }
    new = ModelConfig.objects.get(provider=provider, name="brand-new-chat")
    assert (new.enabled, new.available, new.origin, new.kind) == (False, True, "synced", "chat")
    assert ModelConfig.objects.get(provider=provider, name="text-embedding-9-huge").kind == (
        "embedding"
    )
    assert set(result.flagged) == {
        "openai:gpt-4.1-nano",
        "openai:gpt-4o-mini",
        "openai:o4-mini",
        "openai:text-embedding-3-large",
    }
    assert not ModelConfig.objects.get(provider=provider, name="o4-mini").available
    gpt4o.refresh_from_db()
    assert gpt4o.available and gpt4o.enabled
    assert gpt4o.current_price.pk == staff_price.pk
    assert gpt4o.current_price.source == Origin.STAFF

    # A flagged model that comes back is available again; a reload keeps staff prices.
    openai_fake.models = [*openai_fake.models, "o4-mini"]
    again = models_sync(provider=provider).results[0]
    assert again.added == [] and again.restored == ["openai:o4-mini"]
    assert ModelConfig.objects.get(provider=provider, name="o4-mini").available
    model_catalog_load()
    assert ModelConfig.objects.get(pk=gpt4o.pk).current_price.pk == staff_price.pk


def test_sync_never_overwrites_what_staff_set(openai_fake):
    provider = _fake_provider(openai_fake)
    openai_fake.models = ["custom-model"]
    models_sync(provider=provider)
    model = ModelConfig.objects.get(provider=provider, name="custom-model")
    model.enabled = True
    model.context_window = 4096
    model.mark_staff_edited("enabled", "context_window")
    model.save()

    models_sync(provider=provider)

    model.refresh_from_db()
    assert model.enabled is True and model.context_window == 4096


def test_a_failing_provider_is_reported_and_the_others_still_sync(openai_fake):
    good = _fake_provider(openai_fake, "good")
    _fake_provider(openai_fake, "bad", api_key="sk-wrong-key-000000000000")
    openai_fake.models = ["gpt-4.1"]
    out, err = StringIO(), StringIO()

    call_command("sync_models", stdout=out, stderr=err)

    assert "bad: failed: provider_authentication_failed" in err.getvalue()
    assert "sk-wrong-key" not in err.getvalue()
    assert "good: 1 added (disabled)" in out.getvalue()
    assert good.models.filter(name="gpt-4.1", enabled=False).exists()


def test_sync_of_one_provider_and_an_unknown_slug(openai_fake):
    _fake_provider(openai_fake, "one")
    _fake_provider(openai_fake, "two")
    openai_fake.models = ["gpt-4.1"]
    call_command("sync_models", "--provider", "one", stdout=StringIO())
    assert ModelConfig.objects.filter(provider__slug="one").count() == 1
    assert ModelConfig.objects.filter(provider__slug="two").count() == 0
    with pytest.raises(CommandError, match="Unknown provider 'nope'"):
        call_command("sync_models", "--provider", "nope")


def test_the_admin_action_syncs_the_providers_of_the_selected_models(
    openai_fake, superuser, client
):
    provider = _fake_provider(openai_fake)
    model_catalog_load()
    openai_fake.models = ["gpt-4.1", "from-the-action"]
    client.force_login(superuser)
    any_model = ModelConfig.objects.filter(provider=provider).first()

    response = client.post(
        reverse("admin:providers_modelconfig_changelist"),
        {"action": "sync_from_providers", "_selected_action": [any_model.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Provider openai: 1 added (disabled)" in response.content.decode()
    assert ModelConfig.objects.filter(name="from-the-action", enabled=False).exists()
