"""Admin for models, selections and the selection audit trail."""

from decimal import Decimal

import pytest
from django.urls import reverse

from providers.models import ModelConfig, ModelSelection, Origin, SelectionChange
from providers.services.selection import model_selection_upsert
from tests.providers.catalog_factories import model_create, provider_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def models():
    openai = provider_create("openai", "openai")
    return {
        "big": model_create(openai, "gpt-big", context_window=200_000, price=("2", "8")),
        "mini": model_create(openai, "gpt-mini", context_window=200_000),
        "small": model_create(openai, "gpt-small", context_window=8_000),
        "off": model_create(openai, "gpt-off", enabled=False),
        "reasoner": model_create(openai, "o-thinker", capabilities=["reasoning"]),
    }


def _selection_post(primary, fallbacks=(), **fields) -> dict:
    data = {
        "service": "rag_agent",
        "description": "",
        "primary": primary.pk,
        "min_context_window": "",
        "temperature": "",
        "max_tokens": "",
        "top_p": "",
        "system_prompt": "",
        "fallbacks-TOTAL_FORMS": str(len(fallbacks)),
        "fallbacks-INITIAL_FORMS": "0",
        "fallbacks-MIN_NUM_FORMS": "0",
        "fallbacks-MAX_NUM_FORMS": "1000",
    }
    for index, model in enumerate(fallbacks):
        data[f"fallbacks-{index}-model"] = model.pk
        data[f"fallbacks-{index}-position"] = str(index)
    data.update(fields)
    return data


def test_the_admin_pages_render(admin_client, models):
    selection = model_selection_upsert(
        service="rag_agent", primary="openai:gpt-big", fallbacks=["openai:gpt-mini"], actor=None
    )
    change = SelectionChange.objects.get()
    pages = [
        reverse("admin:providers_modelconfig_changelist"),
        reverse("admin:providers_modelconfig_add"),
        reverse("admin:providers_modelconfig_change", args=[models["big"].pk]),
        reverse("admin:providers_modelselection_changelist"),
        reverse("admin:providers_modelselection_add"),
        reverse("admin:providers_modelselection_change", args=[selection.pk]),
        reverse("admin:providers_selectionchange_changelist"),
        reverse("admin:providers_selectionchange_change", args=[change.pk]),
    ]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url
    page = admin_client.get(pages[5]).content.decode()
    assert "openai:gpt-big (context 200000; $/M in 2, out 8)" in page
    assert "openai:gpt-mini" in page
    listing = admin_client.get(pages[0]).content.decode()
    assert "gpt-big" in listing and "8" in listing


def test_the_capability_filter_and_the_autocomplete(admin_client, models):
    url = reverse("admin:providers_modelconfig_changelist")
    page = admin_client.get(url, {"capability": "reasoning"}).content.decode()
    assert "o-thinker" in page and "gpt-big" not in page
    found = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "providers",
            "model_name": "modelselection",
            "field_name": "primary",
            "term": "mini",
        },
    ).json()
    assert [r["text"] for r in found["results"]] == ["openai:gpt-mini"]


def test_a_bad_selection_is_refused_with_the_message_in_the_form(admin_client, models):
    url = reverse("admin:providers_modelselection_add")

    disabled = admin_client.post(url, _selection_post(models["off"]))
    assert disabled.status_code == 200
    assert "openai:gpt-off is disabled" in disabled.content.decode()

    too_small = admin_client.post(url, _selection_post(models["big"], [models["small"]]))
    assert too_small.status_code == 200
    assert (
        "Fallback openai:gpt-small has a context window of 8000 tokens"
        in too_small.content.decode()
    )

    missing = admin_client.post(
        url, _selection_post(models["big"], required_capabilities=["reasoning"])
    )
    assert "lacks the required capability reasoning" in missing.content.decode()

    hot = admin_client.post(url, _selection_post(models["big"], temperature="2.5"))
    assert "less than or equal to 2" in hot.content.decode()
    assert not ModelSelection.objects.exists()
    assert not SelectionChange.objects.exists()


def test_a_good_selection_saves_its_ordered_fallbacks_and_the_audit_row(
    admin_client, superuser, models
):
    url = reverse("admin:providers_modelselection_add")
    response = admin_client.post(
        url, _selection_post(models["big"], [models["mini"]], temperature="0.3")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    selection = ModelSelection.objects.get(service="rag_agent")
    assert selection.fallback_list() == [models["mini"]]
    assert selection.updated_by == superuser
    row = SelectionChange.objects.get()
    assert (row.action, row.source, row.changed_by) == ("created", "admin", superuser)
    assert row.after["fallbacks"] == ["openai:gpt-mini"] and row.after["temperature"] == 0.3


def test_editing_a_price_in_the_admin_adds_a_staff_price(admin_client, superuser, models):
    model = models["big"]
    old_price = model.current_price
    url = reverse("admin:providers_modelconfig_change", args=[model.pk])
    data = {
        "display_name": "Big",
        "kind": "chat",
        "enabled": "on",
        "available": "on",
        "context_window": "200000",
        "max_output_tokens": "",
        "capabilities": ["tools", "streaming", "vision"],
        "price_input": "2.50",
        "price_output": "8",
        "price_cached_input": "",
        "price_cache_write": "",
        "prices-TOTAL_FORMS": "1",
        "prices-INITIAL_FORMS": "1",
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
        "prices-0-id": str(old_price.pk),
        "prices-0-model": str(model.pk),
    }

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    model = ModelConfig.objects.get(pk=model.pk)
    price = model.current_price
    assert price.pk != old_price.pk
    assert (price.input, price.output, price.source) == (Decimal("2.5"), Decimal(8), Origin.STAFF)
    assert price.created_by == superuser
    assert model.prices.count() == 2
    assert model.staff_edited_fields == ["display_name"]


def test_bulk_enable_and_disable_mark_the_choice_as_staff_set(admin_client, models):
    url = reverse("admin:providers_modelconfig_changelist")
    admin_client.post(url, {"action": "enable_models", "_selected_action": [models["off"].pk]})
    off = ModelConfig.objects.get(pk=models["off"].pk)
    assert off.enabled and "enabled" in off.staff_edited_fields
    admin_client.post(url, {"action": "disable_models", "_selected_action": [models["big"].pk]})
    assert not ModelConfig.objects.get(pk=models["big"].pk).enabled


def test_deleting_a_selection_in_the_admin_is_audited(admin_client, superuser, models):
    selection = model_selection_upsert(service="rag_agent", primary="openai:gpt-big", actor=None)
    url = reverse("admin:providers_modelselection_delete", args=[selection.pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not ModelSelection.objects.exists()
    row = SelectionChange.objects.order_by("-id").first()
    assert (row.action, row.source, row.changed_by) == ("deleted", "admin", superuser)
    assert row.before["primary"] == "openai:gpt-big"


def test_a_selection_routed_through_a_group_with_a_cache_in_the_admin(admin_client, models):
    from providers.models import ModelGroup, ModelGroupMember

    group = ModelGroup.objects.create(name="pool")
    ModelGroupMember.objects.create(group=group, model_config=models["mini"])
    url = reverse("admin:providers_modelselection_add")
    outside = admin_client.post(url, _selection_post(models["big"], primary_group=group.pk))
    assert outside.status_code == 200
    assert "must be an enabled member of the group group:pool" in outside.content.decode()
    saved = admin_client.post(
        url,
        _selection_post(
            models["mini"], primary_group=group.pk, cache_ttl_seconds="300", cache_shared="on"
        ),
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    selection = ModelSelection.objects.get(service="rag_agent")
    assert selection.primary_group == group
    assert (selection.cache_ttl_seconds, selection.cache_shared) == (300, True)
    after = SelectionChange.objects.get().after
    assert after["primary_group"] == "pool" and after["cache_ttl_seconds"] == 300
    page = admin_client.get(reverse("admin:providers_modelselection_change", args=[selection.pk]))
    assert page.status_code == 200 and "group:pool" in page.content.decode()


def test_the_fallback_inline_saves_a_model_group(admin_client, superuser, models):
    from providers.models import ModelGroup, ModelGroupMember

    group = ModelGroup.objects.create(name="pool")
    ModelGroupMember.objects.create(group=group, model_config=models["mini"])
    url = reverse("admin:providers_modelselection_add")

    def post(**entries):
        data = _selection_post(models["big"])
        data["fallbacks-TOTAL_FORMS"] = "1"
        data["fallbacks-0-position"] = "1"
        data.update({f"fallbacks-0-{key}": value for key, value in entries.items()})
        return admin_client.post(url, data)

    both = post(model=models["mini"].pk, group=group.pk)
    assert both.status_code == 200
    assert "A fallback is either a model or a model group." in both.content.decode()
    neither = post()
    assert neither.status_code == 200
    assert "A fallback is either a model or a model group." in neither.content.decode()
    small = ModelGroup.objects.create(name="small")
    ModelGroupMember.objects.create(group=small, model_config=models["small"])
    too_small = post(group=small.pk)
    assert too_small.status_code == 200
    assert (
        "Member openai:gpt-small of fallback group:small has a context window of 8000 tokens"
        in too_small.content.decode()
    )
    assert not ModelSelection.objects.exists()

    saved = post(group=group.pk)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    selection = ModelSelection.objects.get(service="rag_agent")
    assert selection.fallback_list() == [group]
    row = SelectionChange.objects.get()
    assert (row.source, row.changed_by) == ("admin", superuser)
    assert row.after["fallbacks"] == ["group:pool"]
    page = admin_client.get(reverse("admin:providers_modelselection_change", args=[selection.pk]))
    assert page.status_code == 200 and "group:pool" in page.content.decode()
    listing = admin_client.get(reverse("admin:providers_modelselection_changelist"))
    assert "group:pool" in listing.content.decode()
