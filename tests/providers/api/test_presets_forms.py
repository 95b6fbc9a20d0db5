"""Presets through admin, the API and the command: choosing one fills the kind and a blank base
URL and brings the preset's catalog; what does not fit is refused on the preset field."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from providers.catalog import catalog_read
from providers.models import ProviderConfig
from tests.providers.api.conftest import error_of
from tests.providers.catalog_factories import model_create
from tests.providers.catalog_factories import provider_create as provider_row

pytestmark = pytest.mark.django_db

KEY = "sk-preset-form-key-0123456789abcd"
GROQ_URL = "https://api.groq.com/openai/v1"


def _catalog_names(preset: str) -> set[str]:
    return {m.name for m in catalog_read().for_preset(preset)}


def _names(slug: str) -> set[str]:
    return set(ProviderConfig.objects.get(slug=slug).models.values_list("name", flat=True))


# -- API --------------------------------------------------------------------------------------
def test_api_create_by_preset_alone_fills_kind_and_base_url(admin_client_api):
    response = admin_client_api.post(
        "/api/providers/",
        {"slug": "groq", "preset": "groq", "name": "Groq", "api_key": KEY},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["preset"], body["kind"], body["base_url"]) == (
        "groq",
        "openai_compatible",
        GROQ_URL,
    )
    assert _names("groq") == _catalog_names("groq")
    assert KEY not in response.content.decode()


def test_api_create_of_an_official_kind_answers_its_preset(admin_client_api):
    response = admin_client_api.post(
        "/api/providers/",
        {"slug": "claude", "kind": "anthropic", "name": "Claude", "api_key": KEY},
        format="json",
    )
    assert response.status_code == 201 and response.json()["preset"] == "anthropic"
    assert _names("claude") == _catalog_names("anthropic")


@pytest.mark.parametrize(
    "fields, field, words",
    [
        ({"preset": "cohere"}, "preset", "mistral"),  # the message lists the presets
        ({"preset": "mistral", "kind": "openai"}, "preset", "kind openai_compatible"),
        ({}, "kind", "preset"),
    ],
)
def test_api_refuses_a_preset_that_does_not_fit(admin_client_api, fields, field, words):
    body = {"slug": "bad", "name": "Bad", "api_key": KEY, **fields}
    response = admin_client_api.post("/api/providers/", body, format="json")

    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    assert words in " ".join(error["details"]["fields"][field])
    assert not ProviderConfig.objects.filter(slug="bad").exists()


def test_api_preset_change_under_dependents_is_400_and_list_filters_by_preset(admin_client_api):
    mistral = provider_row("mistral", "openai_compatible", preset="mistral")
    model_create(mistral, "mistral-small-latest")
    provider_row("openai", "openai")

    response = admin_client_api.patch("/api/providers/mistral/", {"preset": "groq"}, format="json")
    assert response.status_code == 400
    assert "preset" in error_of(response)["details"]["fields"]

    listed = admin_client_api.get("/api/providers/?preset=mistral").json()
    assert [p["slug"] for p in listed["results"]] == ["mistral"]
    assert admin_client_api.get("/api/providers/?preset=nope").status_code == 400


def test_api_settings_test_takes_a_preset_for_the_kind(admin_client_api, openai_fake):
    response = admin_client_api.post(
        "/api/providers/test/",
        {"preset": "vllm", "base_url": f"{openai_fake.url}/v1", "api_key": openai_fake.api_key},
        format="json",
    )
    assert response.status_code == 200 and response.json()["ok"] is True
    missing = admin_client_api.post("/api/providers/test/", {"api_key": "x"}, format="json")
    assert "kind" in error_of(missing)["details"]["fields"]


# -- admin ------------------------------------------------------------------------------------
def _form(**overrides: str) -> dict[str, str]:
    data = {
        "slug": "mistral",
        "preset": "mistral",
        "kind": "",
        "name": "Mistral",
        "base_url": "",
        "organization": "",
        "project": "",
        "timeout_seconds": "30",
        "max_retries": "2",
        "is_active": "on",
        "new_api_key": KEY,
        "new_extra_headers": "",
    }
    return data | overrides


def test_admin_add_by_preset_fills_kind_and_base_url_and_brings_the_catalog(client, superuser):
    client.force_login(superuser)
    add = reverse("admin:providers_providerconfig_add")
    page = client.get(add).content.decode()
    assert "Mistral AI: https://api.mistral.ai/v1" in page and "Ollama" in page

    response = client.post(add, _form(), follow=True)

    assert response.status_code == 200
    provider = ProviderConfig.objects.get(slug="mistral")
    assert (provider.kind, provider.base_url) == ("openai_compatible", "https://api.mistral.ai/v1")
    assert _names("mistral") == _catalog_names("mistral")
    assert f"{len(_catalog_names('mistral'))} catalog models added" in response.content.decode()
    changelist = reverse("admin:providers_providerconfig_changelist")
    assert client.get(changelist, {"preset__exact": "mistral"}).status_code == 200


@pytest.mark.parametrize(
    "overrides, field",
    [({"preset": ""}, "kind"), ({"kind": "openai"}, "preset"), ({"preset": "nope"}, "preset")],
)
def test_admin_add_refuses_what_does_not_fit(client, superuser, overrides, field):
    client.force_login(superuser)
    response = client.post(reverse("admin:providers_providerconfig_add"), _form(**overrides))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ProviderConfig.objects.exists()


def test_admin_add_of_a_plain_compatible_server_brings_no_catalog(client, superuser):
    client.force_login(superuser)
    data = _form(slug="own", preset="", kind="openai_compatible", base_url="http://127.0.0.1:9/v1")
    response = client.post(reverse("admin:providers_providerconfig_add"), data)
    assert response.status_code == 302
    provider = ProviderConfig.objects.get(slug="own")
    assert provider.preset == "" and not provider.models.exists()


# -- the command ------------------------------------------------------------------------------
def test_configure_provider_by_preset(monkeypatch):
    monkeypatch.setattr("sys.stdin", StringIO(KEY + "\n"))
    out = StringIO()
    call_command("configure_provider", "xai", "--preset", "xai", "--api-key-stdin", stdout=out)

    provider = ProviderConfig.objects.get(slug="xai")
    assert (provider.kind, provider.base_url) == ("openai_compatible", "https://api.x.ai/v1")
    assert "preset xai" in out.getvalue() and KEY not in out.getvalue()
    assert _names("xai") == _catalog_names("xai")
