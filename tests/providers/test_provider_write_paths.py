"""provider_create / provider_update are the only write path of a provider: the admin (add and
change), the API (create, replace, partial update) and `configure_provider` all save through
them, so the rules they hold (keys bound to their address, catalog models on create, who
changed what) cannot be skipped by one door.

Every ProviderConfig.save() is recorded with the function that called it; each path must
save, and only from providers/services/provider.py."""

import io
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from providers.models import ProviderConfig

pytestmark = pytest.mark.django_db

SERVICE = Path("providers/services/provider.py")


@pytest.fixture
def saves(monkeypatch) -> list[tuple[str, str]]:
    """(file, function) of the caller of every ProviderConfig.save()."""
    calls: list[tuple[str, str]] = []
    original = ProviderConfig.save

    def recording_save(self, *args, **kwargs):
        caller = sys._getframe(1)
        calls.append((caller.f_code.co_filename, caller.f_code.co_name))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ProviderConfig, "save", recording_save)
    return calls


def assert_saved_by_the_service(saves: list[tuple[str, str]], function: str) -> None:
    assert saves, "the path saved nothing"
    for filename, name in saves:
        assert Path(filename).as_posix().endswith(SERVICE.as_posix()), (filename, name)
        assert name == function


@pytest.fixture
def api(superuser) -> APIClient:
    client = APIClient()
    client.force_login(superuser)
    return client


def admin_form(url: str, **overrides) -> dict:
    data = {
        "slug": "oa-admin",
        "kind": "openai",
        "name": "OpenAI admin",
        "base_url": url,
        "organization": "",
        "project": "",
        "timeout_seconds": "30",
        "max_retries": "2",
        "is_active": "on",
        "new_api_key": "sk-admin-entered-key-0000000000",
        "new_extra_headers": "",
    }
    data.update(overrides)
    return data


def test_admin_add_and_change_save_through_the_services(client, superuser, openai_fake, saves):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:providers_providerconfig_add"), admin_form(openai_fake.url)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert_saved_by_the_service(saves, "provider_create")
    provider = ProviderConfig.objects.get(slug="oa-admin")
    assert provider.created_by == superuser and provider.credentials_bound()

    saves.clear()
    change = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    form = admin_form(openai_fake.url, name="Renamed", new_api_key="")
    response = client.post(change, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert_saved_by_the_service(saves, "provider_update")
    provider.refresh_from_db()
    assert provider.name == "Renamed" and provider.updated_by == superuser


def test_admin_change_refused_by_the_service_rules_saves_nothing(
    client, superuser, openai_fake, saves
):
    client.force_login(superuser)
    client.post(reverse("admin:providers_providerconfig_add"), admin_form(openai_fake.url))
    provider = ProviderConfig.objects.get(slug="oa-admin")
    saves.clear()
    change = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    moved = admin_form("http://127.0.0.1:9/elsewhere", new_api_key="")
    response = client.post(change, moved)
    assert response.status_code == 200  # the form again, with the error
    assert saves == []
    provider.refresh_from_db()
    assert provider.base_url == openai_fake.url


def test_api_create_replace_and_patch_save_through_the_services(api, superuser, openai_fake, saves):
    payload = {
        "slug": "oa-api",
        "kind": "openai",
        "name": "OpenAI API",
        "base_url": openai_fake.url,
        "api_key": "sk-api-entered-key-00000000000",
    }
    response = api.post("/api/providers/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert_saved_by_the_service(saves, "provider_create")
    provider = ProviderConfig.objects.get(slug="oa-api")

    for method, body in (
        (api.patch, {"name": "Patched"}),
        (api.put, {**payload, "name": "Replaced", "api_key": payload["api_key"]}),
    ):
        saves.clear()
        response = method(f"/api/providers/{provider.slug}/", body, format="json")
        assert response.status_code == 200, response.json()
        assert_saved_by_the_service(saves, "provider_update")
    provider.refresh_from_db()
    assert provider.name == "Replaced" and provider.updated_by == superuser


def test_configure_provider_creates_and_updates_through_the_services(
    openai_fake, monkeypatch, saves
):
    monkeypatch.setattr("sys.stdin", io.StringIO("sk-cli-entered-key-000000000000\n"))
    out = io.StringIO()
    call_command(
        "configure_provider",
        "oa-cli",
        "--kind=openai",
        f"--base-url={openai_fake.url}",
        "--api-key-stdin",
        stdout=out,
    )
    assert_saved_by_the_service(saves, "provider_create")
    assert ProviderConfig.objects.get(slug="oa-cli").credentials_bound()

    saves.clear()
    call_command("configure_provider", "oa-cli", "--name=Renamed", stdout=out)
    assert_saved_by_the_service(saves, "provider_update")
    assert ProviderConfig.objects.get(slug="oa-cli").name == "Renamed"
