"""Azure OpenAI with an app registration: Entra ID tokens requested by client credentials from
the tenant's token endpoint (the fake's), sent as the Bearer, renewed before they expire; a
refused or unreachable endpoint is an authentication or availability error that shows no
secret. Through the real `openai` SDK (azure_ad_token_provider) against tests/fakes."""

import json

import pytest
from django.db import connection
from rest_framework.test import APIClient

from providers.adapters.azure_openai_adapter import AzureOpenAIAdapter
from providers.adapters.entra import REFRESH_MARGIN
from providers.adapters.errors import ProviderAuthenticationError, ProviderUnavailableError
from providers.adapters.types import ChatRequest, Message
from providers.credentials import credentials_problems
from providers.models import ProviderConfig

HELLO = ChatRequest(model="gpt-4o-mini", messages=(Message(role="user", content="hi"),))


def adapter_for(azure_fake, **credentials) -> AzureOpenAIAdapter:
    values = {**azure_fake.app_registration(), **credentials}
    return AzureOpenAIAdapter(azure_fake.provider_settings(api_key="", credentials=values))


def chat_requests(azure_fake):
    return [r for r in azure_fake.requests if r.path.endswith("/chat/completions")]


def test_tokens_come_from_the_token_endpoint_and_are_reused_while_valid(azure_fake):
    adapter = adapter_for(azure_fake)
    try:
        assert adapter.complete(HELLO).text
        assert adapter.complete(HELLO).text
    finally:
        adapter.close()

    [grant] = azure_fake.token_requests()
    assert grant.path == f"/{azure_fake.tenant}/oauth2/v2.0/token"
    assert "authorization" not in grant.headers  # the secret travels in the form only
    assert len(azure_fake.issued_tokens) == 1
    for sent in chat_requests(azure_fake):
        assert sent.headers["authorization"] == f"Bearer {azure_fake.issued_tokens[0]}"
        assert "api-key" not in sent.headers
        assert azure_fake.client_secret not in json.dumps(sent.headers)


def test_a_token_about_to_expire_is_renewed_and_the_new_one_is_sent(azure_fake):
    azure_fake.token_lifetime = int(REFRESH_MARGIN)  # renewed at once: inside the margin
    adapter = adapter_for(azure_fake)
    try:
        adapter.complete(HELLO)
        adapter.complete(HELLO)  # the fake accepts only the latest token
    finally:
        adapter.close()

    assert len(azure_fake.issued_tokens) == 2
    first, second = chat_requests(azure_fake)
    assert first.headers["authorization"] == f"Bearer {azure_fake.issued_tokens[0]}"
    assert second.headers["authorization"] == f"Bearer {azure_fake.issued_tokens[1]}"


def test_a_wrong_client_secret_is_an_authentication_error_without_the_secret(azure_fake):
    wrong = "entra-wrong-secret-Zz9~0123456789abcdefgh"
    adapter = adapter_for(azure_fake, entra_client_secret=wrong)
    try:
        with pytest.raises(ProviderAuthenticationError) as caught:
            adapter.complete(HELLO)
    finally:
        adapter.close()

    assert chat_requests(azure_fake) == []  # no call without a token
    error: BaseException | None = caught.value
    assert "invalid_client" in caught.value.message
    while error is not None:
        assert wrong not in str(error) and wrong not in repr(error.args)
        error = error.__cause__ or error.__context__


def test_an_unknown_tenant_is_refused_and_a_dead_endpoint_is_unavailable(azure_fake):
    adapter = adapter_for(azure_fake, entra_tenant_id="another.onmicrosoft.com")
    try:
        with pytest.raises(ProviderAuthenticationError):
            adapter.complete(HELLO)
    finally:
        adapter.close()
    adapter = adapter_for(azure_fake, entra_authority="http://127.0.0.1:9")
    try:
        with pytest.raises(ProviderUnavailableError):
            adapter.complete(HELLO)
    finally:
        adapter.close()


def test_one_way_of_authenticating_and_all_three_fields_together():
    full = {
        "api_version": "2024-10-21",
        "entra_tenant_id": "contoso.onmicrosoft.com",
        "entra_client_id": "11111111-2222-3333-4444-555555555555",
        "entra_client_secret": "s3cret-value-of-the-app",
    }
    assert credentials_problems("azure_openai", full, api_key="") == {}
    partial = {k: v for k, v in full.items() if k != "entra_client_id"}
    assert set(credentials_problems("azure_openai", partial, api_key="")) == {"entra_client_id"}
    assert set(credentials_problems("azure_openai", full, api_key="azure-key-000000")) == {
        "entra_client_secret"
    }
    bad = {**full, "entra_authority": "https://login.example/path?x=1"}
    assert set(credentials_problems("azure_openai", bad, api_key="")) == {"entra_authority"}


@pytest.mark.django_db
def test_the_api_stores_the_client_secret_encrypted_and_calls_with_renewed_tokens(
    superuser, azure_fake
):
    api = APIClient()
    api.force_login(superuser)
    payload = {
        "slug": "azure-app",
        "kind": "azure_openai",
        "name": "Azure app registration",
        "base_url": azure_fake.url,
        "credentials": azure_fake.app_registration(),
    }
    response = api.post("/api/providers/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert azure_fake.client_secret not in json.dumps(response.json())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials FROM providers_providerconfig WHERE slug = %s", ["azure-app"]
        )
        assert azure_fake.client_secret not in cursor.fetchone()[0]

    provider = ProviderConfig.objects.get(slug="azure-app")
    adapter = AzureOpenAIAdapter(provider.to_settings())
    try:
        assert adapter.complete(HELLO).text
    finally:
        adapter.close()
    assert len(azure_fake.issued_tokens) == 1
