"""A provider's base URL may not carry credentials (userinfo, a query string, a fragment):
refused by the model, the admin form and the API alike, with a message that never repeats it."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from providers.models import ProviderConfig
from providers.models.provider import base_url_credentials_problem

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-in-url-0123456789"

BAD_URLS = [
    pytest.param(f"https://user:{SECRET}@llm.example/v1", "user name or password", id="userinfo"),
    pytest.param(f"https://{SECRET}@llm.example/v1", "user name or password", id="user-only"),
    pytest.param(f"http://user:{SECRET}@10.0.0.5:8000", "user name or password", id="host-port"),
    pytest.param(f"https://llm.example/v1?key={SECRET}", "query string", id="query"),
    pytest.param(f"https://llm.example/v1/?api-version=1&key={SECRET}", "query string", id="q2"),
    pytest.param(f"https://llm.example/v1#{SECRET}", "fragment", id="fragment"),
    pytest.param("https://llm.example/v1?", "query string", id="empty-query"),
]
GOOD_URLS = [
    "https://api.groq.example/openai/v1",
    "http://127.0.0.1:11434/v1",
    "http://[::1]:8000/v1",
    "https://llm.example/v1/users/@me",  # an @ in the path is not userinfo
]


def provider(**fields) -> ProviderConfig:
    return ProviderConfig(
        **{"slug": "local", "kind": "openai_compatible", "name": "Local", "api_key": "k"} | fields
    )


# -- the model --------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_model_full_clean_refuses(url, words):
    with pytest.raises(ValidationError) as caught:
        provider(base_url=url).full_clean()
    messages = caught.value.message_dict["base_url"]
    assert any(words in m for m in messages), messages
    text = " ".join(messages)
    assert "API key field" in text and "extra headers" in text
    assert SECRET not in text and url not in text


@pytest.mark.parametrize("url", GOOD_URLS)
def test_model_accepts_plain_base_urls(url):
    assert base_url_credentials_problem(url) is None
    provider(base_url=url).full_clean()


def test_other_kinds_are_checked_too():
    with pytest.raises(ValidationError) as caught:
        provider(kind="openai", base_url=f"https://api.openai.example/v1?key={SECRET}").full_clean()
    assert "base_url" in caught.value.message_dict


# -- the admin form ---------------------------------------------------------------------------
def admin_data(**overrides) -> dict[str, str]:
    return {
        "slug": "local",
        "kind": "openai_compatible",
        "name": "Local",
        "base_url": "http://127.0.0.1:11434/v1",
        "organization": "",
        "project": "",
        "timeout_seconds": "30",
        "max_retries": "2",
        "is_active": "on",
        "new_api_key": "",
        "new_extra_headers": "",
    } | overrides


@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_admin_form_refuses_and_does_not_echo_the_url(url, words, client, superuser):
    client.force_login(superuser)
    response = client.post(reverse("admin:providers_providerconfig_add"), admin_data(base_url=url))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(words in m for m in errors["base_url"]), errors
    assert SECRET not in response.content.decode()
    assert not ProviderConfig.objects.exists()


def test_admin_form_refuses_on_edit_and_keeps_the_stored_url(client, superuser):
    saved = provider(base_url="http://127.0.0.1:11434/v1")
    saved.save()
    client.force_login(superuser)
    url = reverse("admin:providers_providerconfig_change", args=[saved.pk])
    response = client.post(url, admin_data(base_url=f"http://u:{SECRET}@127.0.0.1:11434/v1"))
    assert response.status_code == 200
    assert "base_url" in response.context["adminform"].form.errors
    saved.refresh_from_db()
    assert saved.base_url == "http://127.0.0.1:11434/v1"


def test_admin_form_accepts_a_plain_url(client, superuser):
    client.force_login(superuser)
    response = client.post(reverse("admin:providers_providerconfig_add"), admin_data())
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ProviderConfig.objects.get(slug="local").base_url == "http://127.0.0.1:11434/v1"


# -- the API ----------------------------------------------------------------------------------
@pytest.fixture
def api(superuser) -> APIClient:
    client = APIClient()
    client.force_login(superuser)
    return client


@pytest.mark.parametrize(("url", "words"), BAD_URLS)
def test_api_create_is_400_with_a_field_message(url, words, api):
    body = {"slug": "local", "kind": "openai_compatible", "name": "Local", "base_url": url}
    response = api.post("/api/providers/", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert any(words in m for m in error["details"]["fields"]["base_url"]), error
    assert error["message"].startswith("base_url: ")
    assert SECRET not in response.content.decode()
    assert not ProviderConfig.objects.exists()


def test_api_update_is_400_and_keeps_the_stored_url(api):
    saved = provider(base_url="http://127.0.0.1:11434/v1")
    saved.save()
    response = api.patch(
        "/api/providers/local/", {"base_url": f"http://127.0.0.1:11434/v1#{SECRET}"}, format="json"
    )
    assert response.status_code == 400
    assert "base_url" in response.json()["error"]["details"]["fields"]
    assert SECRET not in response.content.decode()
    saved.refresh_from_db()
    assert saved.base_url == "http://127.0.0.1:11434/v1"
