"""Per-kind credentials (providers.credentials): declared and validated once, stored encrypted,
written only, bound to where they were entered for; through the API, the admin and the ORM."""

import json
import logging

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from providers.adapters.registry import adapter_pool
from providers.adapters.types import ChatRequest, Message
from providers.credentials import (
    credential_secrets,
    credentials_merge,
    credentials_problems,
    credentials_public,
    secret_hint,
)
from providers.models import ProviderConfig
from providers.selectors import provider_unusable_reason
from providers.services.provider import provider_create, provider_update
from tests.fakes.azure_server import DEFAULT_AZURE_KEY, DEFAULT_ENTRA_TOKEN

pytestmark = pytest.mark.django_db

PROVIDERS = "/api/providers/"
# The app-registration fields of an Azure provider that uses a key or a static token instead.
NO_APP_REGISTRATION = {
    "entra_tenant_id": "",
    "entra_client_id": "",
    "entra_client_secret": "not set",
    "entra_authority": "",
}


@pytest.fixture
def api(superuser) -> APIClient:
    client = APIClient()
    client.force_login(superuser)
    return client


def raw_columns(slug: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key, credentials, credentials_binding FROM providers_providerconfig "
            "WHERE slug = %s",
            [slug],
        )
        return " ".join(cursor.fetchone())


def azure_payload(fake_url: str, **overrides) -> dict:
    payload = {
        "slug": "azure-eu",
        "kind": "azure_openai",
        "name": "Azure EU",
        "base_url": fake_url,
        "credentials": {"api_version": "2024-10-21", "entra_token": DEFAULT_ENTRA_TOKEN},
    }
    payload.update(overrides)
    return payload


# -- the spec -----------------------------------------------------------------------------
def test_merge_keeps_untyped_secrets_and_removes_blank_ones():
    stored = {"api_version": "2024-10-21", "entra_token": "tok-0123456789abcdef"}
    assert credentials_merge("azure_openai", stored, {"api_version": "2025-01-01-preview"}) == {
        "api_version": "2025-01-01-preview",
        "entra_token": "tok-0123456789abcdef",
    }
    assert credentials_merge("azure_openai", stored, {"entra_token": ""}) == {
        "api_version": "2024-10-21"
    }
    assert credentials_merge("gemini", stored, {}) == {}  # no fields of its own


def test_problems_by_field_never_quote_the_secret():
    problems = credentials_problems(
        "azure_openai", {"api_version": "yesterday", "entra_token": "bad token\n"}, api_key=""
    )
    assert set(problems) == {"api_version", "entra_token"}
    assert "bad token" not in " ".join(problems.values())
    assert credentials_problems("azure_openai", {"api_version": "2024-10-21"}, api_key="") == {
        "api_key": "Azure OpenAI needs an API key, a Microsoft Entra ID token, or an app "
        "registration (tenant id, client id, client secret)."
    }
    both = credentials_problems(
        "azure_openai", {"api_version": "2024-10-21", "entra_token": "t" * 20}, api_key="k" * 20
    )
    assert set(both) == {"entra_token"}
    assert "deployments" in credentials_problems(
        "azure_openai", {"api_version": "v1", "deployments": "[1]"}, api_key="k"
    )
    assert "nope" in credentials_problems("azure_openai", {"nope": "x"}, api_key="k")


def test_public_view_hints_secrets_and_scrubbing_knows_them():
    values = {"api_version": "2024-10-21", "entra_token": "abcdefghijklmnop-wxyz"}
    assert credentials_public("azure_openai", values) == {
        "api_version": "2024-10-21",
        "entra_token": "set, ends in …wxyz",
        **NO_APP_REGISTRATION,
        "deployments": "",
    }
    assert credential_secrets("azure_openai", values) == ["abcdefghijklmnop-wxyz"]
    assert secret_hint("") == "not set" and secret_hint("short") == "set"


# -- the API --------------------------------------------------------------------------------
def test_api_creates_an_azure_provider_with_secrets_encrypted_and_hinted(api, azure_fake):
    response = api.post(PROVIDERS, azure_payload(azure_fake.url), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["credentials_info"] == {
        "api_version": "2024-10-21",
        "entra_token": f"set, ends in …{DEFAULT_ENTRA_TOKEN[-4:]}",
        **NO_APP_REGISTRATION,
        "deployments": "",
    }
    assert "credentials" not in body
    assert DEFAULT_ENTRA_TOKEN not in response.content.decode()
    raw = raw_columns("azure-eu")
    assert DEFAULT_ENTRA_TOKEN not in raw and "2024-10-21" not in raw
    provider = ProviderConfig.objects.get(slug="azure-eu")
    assert provider.credentials_dict()["entra_token"] == DEFAULT_ENTRA_TOKEN
    assert provider.credentials_bound()

    detail = api.get(f"{PROVIDERS}azure-eu/").content.decode()
    assert DEFAULT_ENTRA_TOKEN not in detail


def test_the_saved_provider_calls_azure_through_its_settings(api, azure_fake):
    api.post(PROVIDERS, azure_payload(azure_fake.url), format="json")
    provider = ProviderConfig.objects.get(slug="azure-eu")

    adapter = adapter_pool.build(provider.to_settings())
    response = adapter.complete(
        ChatRequest(model="gpt-4o-mini", messages=(Message(role="user", content="hi"),))
    )

    assert response.text.endswith("hi")
    assert azure_fake.last_request().headers["authorization"] == f"Bearer {DEFAULT_ENTRA_TOKEN}"
    check = api.post(f"{PROVIDERS}azure-eu/test/").json()
    assert check["ok"] is True, check


@pytest.mark.parametrize(
    ("credentials", "field"),
    [
        ({"entra_token": DEFAULT_ENTRA_TOKEN}, "api_version"),
        ({"api_version": "someday", "entra_token": DEFAULT_ENTRA_TOKEN}, "api_version"),
        ({"api_version": "2024-10-21", "region": "us-east-1"}, "region"),
    ],
)
def test_api_refuses_bad_kind_fields_by_name(api, azure_fake, credentials, field):
    response = api.post(
        PROVIDERS, azure_payload(azure_fake.url, credentials=credentials), format="json"
    )

    assert response.status_code == 400
    errors = response.json()["error"]["details"]["fields"]
    assert field in errors.get("credentials", {}), errors
    assert DEFAULT_ENTRA_TOKEN not in response.content.decode()


def test_api_refuses_azure_without_key_or_token_and_without_endpoint(api, azure_fake):
    response = api.post(
        PROVIDERS,
        azure_payload(azure_fake.url, credentials={"api_version": "2024-10-21"}),
        format="json",
    )
    assert response.status_code == 400
    assert "api_key" in response.json()["error"]["details"]["fields"]

    response = api.post(PROVIDERS, azure_payload("", api_key=DEFAULT_AZURE_KEY), format="json")
    assert response.status_code == 400
    assert "base_url" in response.json()["error"]["details"]["fields"]


def test_api_refuses_a_query_string_endpoint_the_api_version_has_its_own_field(api, azure_fake):
    response = api.post(
        PROVIDERS,
        azure_payload(f"{azure_fake.url}/?api-version=2024-10-21"),
        format="json",
    )
    assert response.status_code == 400
    assert "base_url" in response.json()["error"]["details"]["fields"]


def test_a_new_endpoint_needs_the_token_again(api, azure_fake):
    api.post(PROVIDERS, azure_payload(azure_fake.url), format="json")
    moved = azure_fake.url.replace("127.0.0.1", "localhost")

    refused = api.patch(f"{PROVIDERS}azure-eu/", {"base_url": moved}, format="json")
    assert refused.status_code == 400
    assert "credentials" in refused.json()["error"]["details"]["fields"]
    assert "Microsoft Entra ID token" in json.dumps(refused.json())

    accepted = api.patch(
        f"{PROVIDERS}azure-eu/",
        {"base_url": moved, "credentials": {"entra_token": DEFAULT_ENTRA_TOKEN}},
        format="json",
    )
    assert accepted.status_code == 200, accepted.json()
    provider = ProviderConfig.objects.get(slug="azure-eu")
    assert provider.credentials_bound()
    assert provider.credentials_dict()["api_version"] == "2024-10-21"  # kept


def test_a_plain_field_changes_without_the_secret(api, azure_fake):
    api.post(PROVIDERS, azure_payload(azure_fake.url), format="json")

    response = api.patch(
        f"{PROVIDERS}azure-eu/",
        {"credentials": {"api_version": "2025-01-01-preview"}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    provider = ProviderConfig.objects.get(slug="azure-eu")
    assert provider.credentials_dict() == {
        "api_version": "2025-01-01-preview",
        "entra_token": DEFAULT_ENTRA_TOKEN,
    }
    assert provider.credentials_bound()


def test_an_orm_edit_of_the_endpoint_withholds_the_secrets(azure_fake):
    provider, _ = provider_create(
        data={
            "slug": "azure-orm",
            "kind": "azure_openai",
            "name": "Azure",
            "base_url": azure_fake.url,
            "credentials": {"api_version": "2024-10-21", "entra_token": DEFAULT_ENTRA_TOKEN},
        }
    )
    ProviderConfig.objects.filter(pk=provider.pk).update(base_url="https://evil.example")
    provider.refresh_from_db()

    assert not provider.credentials_bound()
    assert provider.to_settings().credentials == {}


def test_service_update_binds_entered_secrets(azure_fake):
    provider, _ = provider_create(
        data={
            "slug": "azure-svc",
            "kind": "azure_openai",
            "name": "Azure",
            "base_url": azure_fake.url,
            "api_key": DEFAULT_AZURE_KEY,
            "credentials": {"api_version": "2024-10-21"},
        }
    )
    updated = provider_update(
        provider=provider,
        data={"api_key": "", "credentials": {"entra_token": DEFAULT_ENTRA_TOKEN}},
    )
    assert updated.credentials_bound()
    assert updated.to_settings().credentials["entra_token"] == DEFAULT_ENTRA_TOKEN
    assert provider_unusable_reason(provider=updated) is None
    assert "Entra" in provider_unusable_reason(
        provider=ProviderConfig(slug="x", kind="azure_openai", is_active=True)
    )


def test_settings_test_api_uses_typed_kind_fields(api, azure_fake):
    response = api.post(
        f"{PROVIDERS}test/",
        {
            "kind": "azure_openai",
            "base_url": azure_fake.url,
            "credentials": {"api_version": "2024-10-21", "entra_token": DEFAULT_ENTRA_TOKEN},
        },
        format="json",
    )
    assert response.json()["ok"] is True, response.json()

    response = api.post(
        f"{PROVIDERS}test/",
        {"kind": "azure_openai", "base_url": azure_fake.url, "credentials": {}},
        format="json",
    )
    assert response.json()["ok"] is False
    assert response.json()["error"]["code"] == "invalid_configuration"


def test_no_secret_in_logs(api, azure_fake, caplog):
    caplog.set_level(logging.DEBUG)
    api.post(PROVIDERS, azure_payload(azure_fake.url), format="json")
    azure_fake.entra_token = "another-token-entirely-0000"  # now the stored one is refused
    api.post(f"{PROVIDERS}azure-eu/test/")

    assert DEFAULT_ENTRA_TOKEN not in caplog.text
    assert DEFAULT_ENTRA_TOKEN[-12:] not in caplog.text


# -- the admin ------------------------------------------------------------------------------
def admin_form(fake_url: str, **overrides) -> dict:
    data = {
        "slug": "azure-admin",
        "kind": "azure_openai",
        "name": "Azure admin",
        "base_url": fake_url,
        "organization": "",
        "project": "",
        "timeout_seconds": "30",
        "max_retries": "2",
        "is_active": "on",
        "new_api_key": DEFAULT_AZURE_KEY,
        "new_extra_headers": "",
        "azure_openai__api_version": "2024-10-21",
        "azure_openai__entra_token": "",
        "azure_openai__deployments": '{"gpt-4.1": "prod-gpt4o"}',
    }
    data.update(overrides)
    return data


def test_admin_creates_an_azure_provider_and_never_shows_its_secrets(client, superuser, azure_fake):
    client.force_login(superuser)
    add = reverse("admin:providers_providerconfig_add")
    page = client.get(add).content.decode()
    assert "Azure OpenAI settings" in page and "Amazon Bedrock settings" in page

    response = client.post(add, admin_form(azure_fake.url))

    assert response.status_code == 302, response.content.decode()[:3000]
    provider = ProviderConfig.objects.get(slug="azure-admin")
    assert provider.credentials_dict() == {
        "api_version": "2024-10-21",
        "deployments": '{"gpt-4.1": "prod-gpt4o"}',
    }
    change = client.get(reverse("admin:providers_providerconfig_change", args=[provider.pk]))
    html = change.content.decode()
    assert DEFAULT_AZURE_KEY not in html
    assert 'value="2024-10-21"' in html  # plain fields show their value


def test_admin_refuses_bad_kind_fields_on_their_own_fields(client, superuser, azure_fake):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:providers_providerconfig_add"),
        admin_form(azure_fake.url, azure_openai__api_version=""),
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.errors) == ["azure_openai__api_version"]

    response = client.post(
        reverse("admin:providers_providerconfig_add"),
        admin_form(azure_fake.url, azure_openai__entra_token=DEFAULT_ENTRA_TOKEN),
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.errors) == ["azure_openai__entra_token"]  # key and token together
    assert DEFAULT_ENTRA_TOKEN not in response.content.decode()


def test_admin_moving_the_endpoint_needs_the_secret_again(client, superuser, azure_fake):
    client.force_login(superuser)
    provider, _ = provider_create(
        data={
            "slug": "azure-admin",
            "kind": "azure_openai",
            "name": "Azure admin",
            "base_url": azure_fake.url,
            "credentials": {"api_version": "2024-10-21", "entra_token": DEFAULT_ENTRA_TOKEN},
        }
    )
    url = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    moved = azure_fake.url.replace("127.0.0.1", "localhost")
    data = admin_form(moved, new_api_key="", azure_openai__deployments="")

    response = client.post(url, data)
    assert response.status_code == 200
    assert "Microsoft Entra ID token" in response.content.decode()

    response = client.post(url, {**data, "azure_openai__entra_token": DEFAULT_ENTRA_TOKEN})
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.base_url == moved and provider.credentials_bound()


# -- Vertex --------------------------------------------------------------------------------
def vertex_payload(fake, **credentials) -> dict:
    return {
        "slug": "vertex-eu",
        "kind": "vertex",
        "name": "Vertex",
        "base_url": fake.url,
        "credentials": {
            "project_id": fake.project,
            "location": fake.location,
            "service_account_json": fake.service_account_json(),
            **credentials,
        },
    }


def test_api_creates_a_vertex_provider_and_never_shows_the_key(api, vertex_fake):
    response = api.post(PROVIDERS, vertex_payload(vertex_fake), format="json")

    assert response.status_code == 201, response.json()
    info = response.json()["credentials_info"]
    assert info["project_id"] == vertex_fake.project
    assert info["service_account_json"].startswith("set, ends in …")
    pem_line = vertex_fake.private_key_pem().splitlines()[1]
    assert pem_line not in response.content.decode()
    assert pem_line not in raw_columns("vertex-eu")
    assert api.post(f"{PROVIDERS}vertex-eu/test/").json()["ok"] is True


def test_api_refuses_a_bad_service_account_and_a_metadata_token_uri(api, vertex_fake):
    response = api.post(
        PROVIDERS, vertex_payload(vertex_fake, service_account_json="{}"), format="json"
    )
    assert response.status_code == 400
    assert "service_account_json" in response.json()["error"]["details"]["fields"]["credentials"]

    bad = vertex_fake.service_account_json(token_uri="http://169.254.169.254/token")
    response = api.post(
        PROVIDERS, vertex_payload(vertex_fake, service_account_json=bad), format="json"
    )
    assert response.status_code == 400
    assert "metadata" in json.dumps(response.json())


def test_a_new_region_needs_the_service_account_again(api, vertex_fake):
    api.post(PROVIDERS, vertex_payload(vertex_fake), format="json")

    refused = api.patch(
        f"{PROVIDERS}vertex-eu/", {"credentials": {"location": "europe-west4"}}, format="json"
    )
    assert refused.status_code == 400
    assert "Service account key" in json.dumps(refused.json())

    ProviderConfig.objects.filter(slug="vertex-eu").update(
        credentials=json.dumps(
            {
                **ProviderConfig.objects.get(slug="vertex-eu").credentials_dict(),
                "location": "europe-west4",
            }
        )
    )
    assert not ProviderConfig.objects.get(slug="vertex-eu").credentials_bound()


# -- Bedrock -------------------------------------------------------------------------------
def bedrock_payload(fake, **credentials) -> dict:
    return {
        "slug": "bedrock-us",
        "kind": "bedrock",
        "name": "Bedrock",
        "base_url": fake.url,
        "credentials": {
            "region": fake.region,
            "aws_access_key_id": fake.access_key_id,
            "aws_secret_access_key": fake.secret_access_key,
            **credentials,
        },
    }


def test_api_creates_a_bedrock_provider_that_signs_its_calls(api, bedrock_fake):
    response = api.post(PROVIDERS, bedrock_payload(bedrock_fake), format="json")

    assert response.status_code == 201, response.json()
    info = response.json()["credentials_info"]
    assert info["region"] == bedrock_fake.region
    assert info["aws_secret_access_key"] == (f"set, ends in …{bedrock_fake.secret_access_key[-4:]}")
    assert bedrock_fake.secret_access_key not in response.content.decode()
    assert bedrock_fake.secret_access_key not in raw_columns("bedrock-us")
    assert api.post(f"{PROVIDERS}bedrock-us/test/").json()["ok"] is True
    assert bedrock_fake.signatures_checked == 1


def test_bedrock_refuses_half_keys_an_api_key_and_a_bad_region(api, bedrock_fake):
    half = bedrock_payload(bedrock_fake, aws_secret_access_key="")
    assert (
        "aws_secret_access_key"
        in api.post(PROVIDERS, half, format="json").json()["error"]["details"]["fields"][
            "credentials"
        ]
    )
    keyed = {**bedrock_payload(bedrock_fake), "api_key": "sk-not-for-bedrock-0123456789"}
    assert (
        "api_key" in api.post(PROVIDERS, keyed, format="json").json()["error"]["details"]["fields"]
    )
    region = bedrock_payload(bedrock_fake, region="evil.example.com/")
    assert (
        "region"
        in api.post(PROVIDERS, region, format="json").json()["error"]["details"]["fields"][
            "credentials"
        ]
    )


def test_bedrock_without_keys_uses_the_instance_role(api, bedrock_fake):
    payload = bedrock_payload(bedrock_fake, aws_access_key_id="", aws_secret_access_key="")
    response = api.post(PROVIDERS, payload, format="json")
    assert response.status_code == 201, response.json()
    provider = ProviderConfig.objects.get(slug="bedrock-us")
    assert provider_unusable_reason(provider=provider) is None


def test_a_new_bedrock_region_needs_the_aws_secrets_again(api, bedrock_fake):
    api.post(PROVIDERS, bedrock_payload(bedrock_fake), format="json")

    refused = api.patch(
        f"{PROVIDERS}bedrock-us/", {"credentials": {"region": "eu-west-3"}}, format="json"
    )
    assert refused.status_code == 400
    assert "AWS secret access key" in json.dumps(refused.json())

    accepted = api.patch(
        f"{PROVIDERS}bedrock-us/",
        {
            "credentials": {
                "region": "eu-west-3",
                "aws_access_key_id": bedrock_fake.access_key_id,
                "aws_secret_access_key": bedrock_fake.secret_access_key,
            }
        },
        format="json",
    )
    assert accepted.status_code == 200, accepted.json()
    assert ProviderConfig.objects.get(slug="bedrock-us").credentials_bound()


# -- the command ---------------------------------------------------------------------------
def test_configure_provider_takes_plain_fields_as_options_and_secrets_on_stdin(
    bedrock_fake, monkeypatch
):
    import io

    from django.core.management import CommandError, call_command

    secrets = {
        "aws_access_key_id": bedrock_fake.access_key_id,
        "aws_secret_access_key": bedrock_fake.secret_access_key,
    }
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(secrets)))
    out = io.StringIO()
    call_command(
        "configure_provider",
        "bedrock-cli",
        "--kind=bedrock",
        f"--base-url={bedrock_fake.url}",
        "--credential=region=us-east-1",
        "--credentials-stdin",
        stdout=out,
    )
    provider = ProviderConfig.objects.get(slug="bedrock-cli")
    assert provider.credentials_dict() == {"region": "us-east-1", **secrets}
    assert bedrock_fake.secret_access_key not in out.getvalue()

    with pytest.raises(CommandError, match="standard input only"):
        call_command("configure_provider", "bedrock-cli", "--credential=aws_secret_access_key=x")
    with pytest.raises(CommandError, match="AWS secret access key"):
        call_command("configure_provider", "bedrock-cli", "--credential=region=eu-west-3")


def test_settings_test_uses_stored_secrets_only_where_they_were_entered(api, vertex_fake):
    api.post(PROVIDERS, vertex_payload(vertex_fake), format="json")
    same = {
        "slug": "vertex-eu",
        "kind": "vertex",
        "base_url": vertex_fake.url,
        "credentials": {"project_id": vertex_fake.project, "location": vertex_fake.location},
    }
    response = api.post(f"{PROVIDERS}test/", same, format="json").json()
    assert response["ok"] is True, response

    moved = {**same, "credentials": {**same["credentials"], "location": "europe-west4"}}
    response = api.post(f"{PROVIDERS}test/", moved, format="json").json()
    assert response["ok"] is False
    assert response["error"]["code"] == "provider_key_unbound"


def test_admin_change_page_of_vertex_keeps_the_key_when_left_blank(client, superuser, vertex_fake):
    client.force_login(superuser)
    provider, _ = provider_create(data=vertex_payload(vertex_fake))
    url = reverse("admin:providers_providerconfig_change", args=[provider.pk])
    html = client.get(url).content.decode()
    pem_line = vertex_fake.private_key_pem().splitlines()[1]
    assert pem_line not in html and "Google Vertex AI settings" in html

    data = {
        "slug": "vertex-eu",
        "kind": "vertex",
        "name": "Renamed",
        "base_url": vertex_fake.url,
        "organization": "",
        "project": "",
        "timeout_seconds": "30",
        "max_retries": "2",
        "is_active": "on",
        "new_api_key": "",
        "new_extra_headers": "",
        "vertex__project_id": vertex_fake.project,
        "vertex__location": vertex_fake.location,
        "vertex__service_account_json": "",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    provider.refresh_from_db()
    assert provider.name == "Renamed"
    assert provider.credentials_dict()["service_account_json"] == vertex_fake.service_account_json()
    assert provider.credentials_bound()
