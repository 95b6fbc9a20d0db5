"""Keys bound to their destination: no code path sends a stored key anywhere but the address
it was entered for; changing the base URL or kind needs the key again; the kind cannot change
under dependents. Through the services, admin (Django test client), API and the command."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from providers.adapters.errors import ProviderKeyUnboundError
from providers.models import ProviderConfig
from providers.selectors import provider_adapter_get
from providers.services.catalog import models_sync
from providers.services.connection import provider_connection_check
from providers.services.provider import provider_create, provider_update
from tests.fakes.openai_server import OpenAIFakeServer
from tests.providers.api.conftest import grant, make_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def attacker():
    """An address a staff user controls: it must never see the stored key."""
    server = OpenAIFakeServer().start()
    server.api_key = None  # accepts anything, records everything
    yield server
    server.stop()


@pytest.fixture
def provider(openai_fake):
    provider, _ = provider_create(
        data={
            "slug": "openai",
            "kind": "openai_compatible",
            "name": "OpenAI",
            "base_url": f"{openai_fake.url}/v1",
            "api_key": openai_fake.api_key,
            "timeout_seconds": 2,
            "max_retries": 0,
        }
    )
    return provider


def assert_never_reached(server):
    assert server.requests == [], [r.headers.get("authorization") for r in server.requests]


# -- the model and services ---------------------------------------------------------------
def test_a_direct_orm_edit_of_the_base_url_cannot_redirect_the_key(provider, attacker):
    ProviderConfig.objects.filter(pk=provider.pk).update(base_url=f"{attacker.url}/v1")
    moved = ProviderConfig.objects.get(pk=provider.pk)
    settings = moved.to_settings()
    assert settings.api_key == "" and settings.credentials_unbound
    result = provider_connection_check(provider=moved)
    assert not result.ok and result.message.startswith("provider_key_unbound")
    # A save() of the instance does not rebind either: the key was not entered.
    moved.base_url = f"{attacker.url}/v1/"
    moved.save()
    with pytest.raises(ProviderKeyUnboundError):
        provider_adapter_get(slug="openai")
    assert models_sync(provider=moved).results[0].error.startswith("provider_key_unbound")
    assert_never_reached(attacker)


def test_setting_a_key_on_the_instance_binds_it_where_it_points(provider, attacker):
    provider.base_url = f"{attacker.url}/v1"
    provider.api_key = "sk-a-key-entered-for-the-new-address"
    provider.save()
    provider_connection_check(provider=provider)
    assert attacker.last_request().headers["authorization"] == (
        "Bearer sk-a-key-entered-for-the-new-address"
    )


def test_update_refuses_a_new_base_url_without_the_key(provider, attacker):
    with pytest.raises(ValidationError) as caught:
        provider_update(provider=provider, data={"base_url": f"{attacker.url}/v1"})
    assert "entering the API key again" in caught.value.message_dict["api_key"][0]
    assert ProviderConfig.objects.get(pk=provider.pk).base_url == provider.base_url
    # The same URL written differently is no move.
    provider_update(provider=provider, data={"base_url": provider.base_url + "/"})
    assert provider_connection_check(provider=provider).ok


def test_update_with_the_key_entered_again_binds_it_to_the_new_address(
    provider, attacker, openai_fake
):
    updated = provider_update(
        provider=provider,
        data={"base_url": f"{attacker.url}/v1", "api_key": openai_fake.api_key},
    )
    assert updated.credentials_bound()
    assert provider_connection_check(provider=updated).ok


def test_extra_headers_are_bound_too(provider, attacker, openai_fake):
    provider = provider_update(
        provider=provider, data={"extra_headers": '{"X-Token": "t0p-s3cret-hdr"}'}
    )
    with pytest.raises(ValidationError) as caught:
        provider_update(
            provider=provider,
            data={"base_url": f"{attacker.url}/v1", "api_key": openai_fake.api_key},
        )
    assert set(caught.value.message_dict) == {"extra_headers"}
    provider_update(
        provider=provider,
        data={
            "base_url": f"{attacker.url}/v1",
            "api_key": openai_fake.api_key,
            "extra_headers": "",
        },
    )


def test_kind_cannot_change_while_models_depend_on_it(provider, openai_fake):
    make_model(provider, "gpt-4o-mini")
    with pytest.raises(ValidationError) as caught:
        provider_update(provider=provider, data={"kind": "openai", "api_key": openai_fake.api_key})
    assert "Create a new provider" in caught.value.message_dict["kind"][0]


def test_kind_change_without_dependents_needs_the_key(provider, openai_fake):
    provider.models.all().delete()
    with pytest.raises(ValidationError) as caught:
        provider_update(provider=provider, data={"kind": "openai"})
    assert set(caught.value.message_dict) == {"api_key"}
    updated = provider_update(
        provider=provider, data={"kind": "openai", "api_key": openai_fake.api_key}
    )
    assert updated.kind == "openai" and updated.credentials_bound()


def test_metadata_base_url_is_refused_on_create(openai_fake):
    with pytest.raises(ValidationError) as caught:
        provider_create(
            data={
                "slug": "meta",
                "kind": "openai_compatible",
                "name": "m",
                "base_url": "http://169.254.169.254/latest",
                "api_key": "sk-whatever-key-123456",
            }
        )
    assert "metadata" in caught.value.message_dict["base_url"][0]


def test_private_base_url_is_refused_unless_allowed(settings, openai_fake):
    settings.PROVIDER_ALLOWED_NETWORKS = []
    data = {
        "slug": "local",
        "kind": "openai_compatible",
        "name": "local",
        "base_url": f"{openai_fake.url}/v1",
    }
    with pytest.raises(ValidationError) as caught:
        provider_create(data=data)
    assert "PROVIDER_ALLOWED_NETWORKS" in caught.value.message_dict["base_url"][0]
    settings.PROVIDER_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert provider_create(data=data)[0].pk


# -- admin ----------------------------------------------------------------------------------
def form_data(provider, **overrides):
    data = {
        "slug": provider.slug,
        "kind": provider.kind,
        "name": provider.name,
        "base_url": provider.base_url,
        "organization": "",
        "project": "",
        "timeout_seconds": "2",
        "max_retries": "0",
        "is_active": "on",
        "new_api_key": "",
        "new_extra_headers": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def changer(client, staff_user):
    """A staff user with only the change (and view) permission on providers."""
    grant(staff_user, "change_providerconfig", "view_providerconfig")
    client.force_login(staff_user)
    return client


def test_admin_refuses_a_new_base_url_without_the_key_and_test_connection_stays_home(
    changer, provider, attacker, openai_fake
):
    url = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    response = changer.post(url, form_data(provider, base_url=f"{attacker.url}/v1"))
    assert response.status_code == 200
    assert "entering the API key again" in response.content.decode()
    provider.refresh_from_db()
    assert provider.base_url == f"{openai_fake.url}/v1"
    test_url = reverse("admin:providers_providerconfig_test_connection", args=[provider.pk])
    changer.post(test_url)
    assert_never_reached(attacker)
    assert openai_fake.requests  # the test went where the key was entered for


def test_admin_accepts_a_new_base_url_with_the_key(changer, provider, attacker):
    url = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    response = changer.post(
        url, form_data(provider, base_url=f"{attacker.url}/v1", new_api_key="sk-new-key-0000111122")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    provider.refresh_from_db()
    assert provider.base_url == f"{attacker.url}/v1" and provider.credentials_bound()
    assert provider.updated_by is not None


def test_admin_refuses_a_kind_change_under_dependents(changer, provider, openai_fake):
    make_model(provider, "gpt-4o-mini")
    url = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    response = changer.post(
        url, form_data(provider, kind="openai", new_api_key=openai_fake.api_key)
    )
    assert response.status_code == 200
    assert "Create a new provider" in response.content.decode()
    provider.refresh_from_db()
    assert provider.kind == "openai_compatible"


def test_admin_refuses_metadata_base_url_on_add(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:providers_providerconfig_add"),
        form_data(
            ProviderConfig(slug="meta", kind="openai_compatible", name="m"),
            base_url="http://metadata.google.internal/v1",
            new_api_key="sk-some-key-123456789",
        ),
    )
    assert response.status_code == 200
    assert "metadata host name" in response.content.decode()
    assert not ProviderConfig.objects.filter(slug="meta").exists()


# -- API ------------------------------------------------------------------------------------
@pytest.fixture
def api_changer(staff_client_with):
    return staff_client_with("change_providerconfig", "view_providerconfig")


def test_api_refuses_a_new_base_url_without_the_key(api_changer, provider, attacker):
    response = api_changer.patch(
        "/api/providers/openai/", {"base_url": f"{attacker.url}/v1"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "entering the API key again" in error["details"]["fields"]["api_key"][0]
    api_changer.post("/api/providers/openai/test/")
    assert_never_reached(attacker)


def test_api_accepts_the_move_with_the_key_and_refuses_kind_under_dependents(
    api_changer, provider, attacker, openai_fake
):
    response = api_changer.patch(
        "/api/providers/openai/",
        {"base_url": f"{attacker.url}/v1", "api_key": "sk-moved-key-99998888"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["api_key_hint"] == "set, ends in …8888"
    make_model(provider, "gpt-4o-mini")
    response = api_changer.patch(
        "/api/providers/openai/", {"kind": "openai", "api_key": "sk-x-123456789"}, format="json"
    )
    assert response.status_code == 400
    assert "Create a new provider" in response.json()["error"]["details"]["fields"]["kind"][0]


def test_api_create_binds_the_key_and_refuses_link_local(admin_client_api, openai_fake):
    response = admin_client_api.post(
        "/api/providers/",
        {"slug": "ll", "kind": "openai_compatible", "name": "x", "base_url": "http://[fe80::1]/v1"},
        format="json",
    )
    assert response.status_code == 400
    assert "link-local" in response.json()["error"]["details"]["fields"]["base_url"][0]
    response = admin_client_api.post(
        "/api/providers/",
        {
            "slug": "fine",
            "kind": "openai_compatible",
            "name": "x",
            "base_url": f"{openai_fake.url}/v1",
            "api_key": openai_fake.api_key,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    created = ProviderConfig.objects.get(slug="fine")
    assert created.credentials_bound() and created.created_by is not None


# -- the command ----------------------------------------------------------------------------
def run(*args, stdin=""):
    out = io.StringIO()
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("configure_provider", *args, stdout=out)
    finally:
        sys.stdin = old
    return out.getvalue()


def test_command_creates_with_the_key_from_stdin_and_applies_the_rules(openai_fake, attacker):
    key = openai_fake.api_key
    out = run(
        "cmd",
        "--kind",
        "openai_compatible",
        "--base-url",
        f"{openai_fake.url}/v1",
        "--api-key-stdin",
        stdin=key + "\n",
    )
    assert "Created cmd" in out and key not in out
    provider = ProviderConfig.objects.get(slug="cmd")
    assert provider.api_key == key and provider.credentials_bound()
    with pytest.raises(CommandError, match="entering the API key again"):
        run("cmd", "--base-url", f"{attacker.url}/v1")
    make_model(provider, "m1")
    with pytest.raises(CommandError, match="Create a new provider"):
        run("cmd", "--kind", "openai", "--api-key-stdin", stdin=key)
    with pytest.raises(CommandError, match="metadata"):
        run("cmd", "--base-url", "http://169.254.169.254/", "--api-key-stdin", stdin=key)
    out = run(
        "cmd", "--base-url", f"{attacker.url}/v1", "--api-key-stdin", stdin="sk-other-1234567"
    )
    assert "Updated cmd" in out
    assert ProviderConfig.objects.get(slug="cmd").credentials_bound()
    assert_never_reached(attacker)  # saving calls nobody


def test_no_way_of_loading_the_row_makes_a_stored_key_look_entered(provider, attacker):
    """Deferred fields loaded later, or a stale instance, must not rebind the stored key."""
    partial = ProviderConfig.objects.only("slug", "base_url").get(pk=provider.pk)
    partial.base_url = f"{attacker.url}/v1"
    assert partial.api_key  # loads the deferred key
    partial.save()
    stale = ProviderConfig.objects.get(pk=provider.pk)
    stale.api_key = stale.api_key  # "set" to what is stored
    stale.save()
    assert not ProviderConfig.objects.get(pk=provider.pk).credentials_bound()
    assert not provider_connection_check(provider=stale).ok
    assert_never_reached(attacker)
