"""ProviderConfig admin: no plaintext secrets in pages, clear refusals, test connection."""

import pytest
from django.urls import reverse

from providers.models import ProviderConfig

SECRET = "sk-admin-plaintext-secret-9876543210wxyz"
HEADER_SECRET = "header-value-that-is-secret-42"


@pytest.fixture
def provider(db):
    return ProviderConfig.objects.create(
        slug="openai",
        kind="openai",
        name="OpenAI",
        api_key=SECRET,
        extra_headers=f'{{"X-Org-Token": "{HEADER_SECRET}"}}',
    )


@pytest.fixture
def admin_client_logged_in(client, superuser):
    client.force_login(superuser)
    return client


def form_data(**overrides):
    data = {
        "slug": "new-provider",
        "kind": "openai",
        "name": "New provider",
        "base_url": "",
        "organization": "",
        "project": "",
        "timeout_seconds": "30",
        "max_retries": "2",
        "is_active": "on",
        "new_api_key": "sk-brand-new-key-000011112222",
        "new_extra_headers": "",
    }
    data.update(overrides)
    return data


def test_list_and_change_pages_show_no_plaintext_key(admin_client_logged_in, provider):
    for url in (
        reverse("admin:providers_providerconfig_changelist"),
        reverse("admin:providers_providerconfig_change", args=[provider.pk]),
    ):
        response = admin_client_logged_in.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert SECRET not in html
        assert HEADER_SECRET not in html
        assert "set, ends in …wxyz" in html
    # The header names may be shown, never their values.
    assert "X-Org-Token" in html
    assert "Test connection" in html


def test_create_with_key_stores_it_encrypted(admin_client_logged_in, superuser):
    response = admin_client_logged_in.post(
        reverse("admin:providers_providerconfig_add"), form_data()
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = ProviderConfig.objects.get(slug="new-provider")
    assert created.api_key == "sk-brand-new-key-000011112222"
    assert created.created_by == superuser
    assert created.updated_by == superuser


def test_blank_key_on_edit_keeps_the_stored_key(admin_client_logged_in, provider):
    data = form_data(slug="openai", name="Renamed", new_api_key="")
    url = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    response = admin_client_logged_in.post(url, data)
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.name == "Renamed"
    assert provider.api_key == SECRET
    assert provider.extra_headers_dict() == {"X-Org-Token": HEADER_SECRET}


def test_clear_key_removes_it(admin_client_logged_in, provider):
    data = form_data(slug="openai", new_api_key="", clear_api_key="on")
    url = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    assert admin_client_logged_in.post(url, data).status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == ""


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"slug": "Bad Slug!"}, "slug", "lowercase letters, digits and hyphens"),
        ({"slug": "-leading"}, "slug", "lowercase letters, digits and hyphens"),
        ({"kind": "cohere"}, "kind", "Select a valid choice"),
        ({"kind": "openai_compatible", "base_url": ""}, "base_url", "needs its base URL"),
        ({"kind": "openai_compatible", "base_url": "ftp://host/v1"}, "base_url", "valid URL"),
        ({"new_extra_headers": "[1, 2]"}, "new_extra_headers", "JSON object"),
        ({"new_extra_headers": "{not json"}, "new_extra_headers", "JSON object"),
        ({"timeout_seconds": "0"}, "timeout_seconds", "greater than or equal to 0.1"),
    ],
)
def test_bad_input_is_refused_with_clear_messages(
    admin_client_logged_in, overrides, field, message
):
    response = admin_client_logged_in.post(
        reverse("admin:providers_providerconfig_add"), form_data(**overrides)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not ProviderConfig.objects.filter(name="New provider").exists()


def test_openai_compatible_with_http_base_url_and_no_key_is_accepted(admin_client_logged_in):
    data = form_data(kind="openai_compatible", base_url="http://127.0.0.1:11434/v1", new_api_key="")
    response = admin_client_logged_in.post(reverse("admin:providers_providerconfig_add"), data)
    assert response.status_code == 302
    assert ProviderConfig.objects.get(slug="new-provider").api_key_set is False


def test_test_connection_button_reports_models(admin_client_logged_in, openai_fake):
    provider = ProviderConfig.objects.create(
        slug="openai-fake",
        kind="openai",
        name="Fake",
        api_key=openai_fake.api_key,
        base_url=openai_fake.url + "/v1",
        timeout_seconds=5,
    )
    url = reverse("admin:providers_providerconfig_test_connection", args=[provider.pk])
    response = admin_client_logged_in.post(url, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "connection ok" in html
    assert f"{len(openai_fake.models)} models listed" in html
    provider.refresh_from_db()
    assert provider.last_check_ok is True
    assert provider.last_check_latency_ms is not None


def test_test_connection_action_reports_mapped_error_without_key(
    admin_client_logged_in, openai_fake
):
    provider = ProviderConfig.objects.create(
        slug="openai-bad-key",
        kind="openai",
        name="Wrong key",
        api_key="sk-wrong-key-abcdefghijklmnop",
        base_url=openai_fake.url + "/v1",
        timeout_seconds=5,
    )
    response = admin_client_logged_in.post(
        reverse("admin:providers_providerconfig_changelist"),
        {"action": "test_connection", "_selected_action": [provider.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "connection failed: provider_authentication_failed" in html
    assert "sk-wrong-key-abcdefghijklmnop" not in html
    provider.refresh_from_db()
    assert provider.last_check_ok is False
    assert "sk-wrong-key" not in provider.last_check_message


def test_test_connection_view_refuses_get(admin_client_logged_in, provider):
    url = reverse("admin:providers_providerconfig_test_connection", args=[provider.pk])
    assert admin_client_logged_in.get(url).status_code == 405


def test_a_new_provider_starts_with_its_catalog_models(admin_client_logged_in):
    from providers.models import ModelConfig

    response = admin_client_logged_in.post(
        reverse("admin:providers_providerconfig_add"), form_data(), follow=True
    )
    assert response.status_code == 200
    created = ProviderConfig.objects.get(slug="new-provider")
    names = set(ModelConfig.objects.filter(provider=created).values_list("name", flat=True))
    assert {"gpt-4.1", "text-embedding-3-small"} <= names
    assert "catalog models added for new-provider" in response.content.decode()


def test_sync_action_adds_new_models_disabled(admin_client_logged_in, openai_fake):
    from providers.models import ModelConfig

    provider = ProviderConfig.objects.create(
        slug="openai-fake",
        kind="openai",
        name="Fake",
        api_key=openai_fake.api_key,
        base_url=openai_fake.url + "/v1",
        timeout_seconds=5,
    )
    response = admin_client_logged_in.post(
        reverse("admin:providers_providerconfig_changelist"),
        {"action": "sync_models", "_selected_action": [provider.pk]},
        follow=True,
    )
    html = response.content.decode().lower()  # admin messages are capitalised
    assert f"openai-fake: {len(openai_fake.models)} new (disabled)" in html
    synced = ModelConfig.objects.filter(provider=provider)
    assert sorted(synced.values_list("name", flat=True)) == sorted(openai_fake.models)
    assert not synced.filter(enabled=True).exists()


def test_sync_action_reports_a_provider_error(admin_client_logged_in, openai_fake):
    provider = ProviderConfig.objects.create(
        slug="openai-down",
        kind="openai",
        name="Down",
        api_key=openai_fake.api_key,
        base_url=openai_fake.url + "/v1",
        timeout_seconds=5,
    )
    openai_fake.faults.status = 500
    response = admin_client_logged_in.post(
        reverse("admin:providers_providerconfig_changelist"),
        {"action": "sync_models", "_selected_action": [provider.pk]},
        follow=True,
    )
    assert "openai-down: sync failed: provider_unavailable" in response.content.decode().lower()


def test_load_catalog_action(admin_client_logged_in, provider):
    response = admin_client_logged_in.post(
        reverse("admin:providers_providerconfig_changelist"),
        {"action": "load_catalog_models", "_selected_action": [provider.pk]},
        follow=True,
    )
    assert "openai: 8 created" in response.content.decode().lower()
    assert provider.models.filter(name="gpt-4.1").exists()
