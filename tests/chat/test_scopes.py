"""Scopes checked on every request (issue 9 §3): a conversation post re-checks its key's and
user's current scope, restricted keys see only what they may call, spending needs
chat.use_models, and staff tokens and sessions die with the user's staff status."""

import json

import pytest
from django.contrib.auth.models import Permission
from knox.models import AuthToken
from rest_framework.test import APIClient

from chat.models import Conversation
from providers.consumers import consumer_key_create
from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set, use_models_grant
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db
BASE = "/api/conversations/"


@pytest.fixture
def services(openai_fake):
    provider = provider_create(openai_fake, slug="oa", kind="openai")
    first = model_create(provider, "gpt-4o-mini")
    second = model_create(provider, "gpt-4.1")
    selection_set("service_a", first, system_prompt="Secret prompt of A")
    selection_set("service_b", second, system_prompt="Secret prompt of B")
    return first, second


def post(client, url, body, **extra):
    return client.post(url, data=json.dumps(body), content_type="application/json", **extra)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == code


def test_a_narrowed_key_can_no_longer_post_to_its_conversation_on_another_service(client, services):
    api_key, secret = consumer_key_create(name="prog", allowed_services=["service_a", "service_b"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    created = post(client, BASE, {"service": "service_b"}, **auth)
    assert created.status_code == 201
    url = f"{BASE}{created.json()['id']}/messages/"
    assert post(client, url, {"content": "hi"}, **auth).status_code == 201
    records = UsageRecord.objects.count()

    api_key.allowed_services = ["service_a"]
    api_key.save()
    for suffix in ("", "?stream=true"):
        assert_error(
            post(client, url + suffix, {"content": "again"}, **auth), 403, "permission_denied"
        )
    assert UsageRecord.objects.count() == records  # nothing was called or paid
    assert Conversation.objects.get().messages.filter(role="user").count() == 1


def test_a_user_who_loses_use_models_can_no_longer_post(client, services, django_user_model):
    user = use_models_grant(django_user_model.objects.create_user("ann", is_staff=True))
    client.force_login(user)
    created = post(client, BASE, {"service": "service_a"})
    assert created.status_code == 201
    url = f"{BASE}{created.json()['id']}/messages/"
    assert post(client, url, {"content": "hi"}).status_code == 201

    user.user_permissions.clear()
    assert_error(post(client, url, {"content": "again"}), 403, "permission_denied")
    assert_error(post(client, BASE, {"service": "service_a"}), 403, "permission_denied")
    assert UsageRecord.objects.count() == 1


def test_staff_without_use_models_cannot_spend(client, services, staff_user):
    client.force_login(staff_user)
    assert_error(post(client, BASE, {"service": "service_a"}), 403, "permission_denied")
    body = {"model": "service_a", "messages": [{"role": "user", "content": "hi"}]}
    assert_error(post(client, "/playground/stream/", body), 403, "permission_denied")
    assert not UsageRecord.objects.exists()


def test_superusers_have_use_models(client, services, superuser):
    client.force_login(superuser)
    created = post(client, BASE, {"service": "service_a"})
    assert created.status_code == 201
    reply = post(client, f"{BASE}{created.json()['id']}/messages/", {"content": "hi"})
    assert reply.status_code == 201


def test_staff_token_stops_working_when_the_user_is_made_inactive_or_demoted(
    services, django_user_model
):
    user = use_models_grant(django_user_model.objects.create_user("tok", is_staff=True))
    _, token = AuthToken.objects.create(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(BASE).status_code == 200

    django_user_model.objects.filter(pk=user.pk).update(is_staff=False)
    assert_error(client.get(BASE), 403, "permission_denied")
    django_user_model.objects.filter(pk=user.pk).update(is_staff=True, is_active=False)
    assert_error(client.get(BASE), 401, "authentication_failed")


def test_session_stops_working_when_the_user_is_demoted_or_made_inactive(
    client, services, django_user_model
):
    user = use_models_grant(django_user_model.objects.create_user("ses", is_staff=True))
    client.force_login(user)
    created = post(client, BASE, {"service": "service_a"})
    url = f"{BASE}{created.json()['id']}/messages/"

    django_user_model.objects.filter(pk=user.pk).update(is_staff=False)
    assert_error(post(client, url, {"content": "hi"}), 403, "permission_denied")
    django_user_model.objects.filter(pk=user.pk).update(is_staff=True, is_active=False)
    response = post(client, url, {"content": "hi"})
    assert response.status_code in (401, 403) and "error" in response.json()
    assert not UsageRecord.objects.exists()


def _get(secret: str, url: str):
    return APIClient().get(url, HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_a_key_limited_to_a_service_sees_no_model_prices_and_only_its_service(services):
    _, secret = consumer_key_create(name="svc", allowed_services=["service_a"])
    assert _get(secret, "/api/models/").json()["results"] == []
    assert _get(secret, "/api/models/available/").json()["results"] == []
    selections = _get(secret, "/api/selections/").json()["results"]
    assert [s["service"] for s in selections] == ["service_a"]
    assert "Secret prompt of B" not in _get(secret, "/api/selections/").content.decode()
    assert _get(secret, "/api/selections/service_b/").status_code == 404
    ids = {m["id"] for m in _get(secret, "/v1/models").json()["data"]}
    assert ids == {"service_a"}


def test_a_key_limited_to_models_sees_no_service_and_only_its_models(services):
    _, secret = consumer_key_create(name="mod", allowed_models=["oa:gpt-4o-mini"])
    assert _get(secret, "/api/selections/").json()["results"] == []
    text = _get(secret, "/api/selections/").content.decode()
    assert "Secret prompt" not in text
    catalog = _get(secret, "/api/models/").json()["results"]
    assert [m["model_string"] for m in catalog] == ["oa:gpt-4o-mini"]
    available = _get(secret, "/api/models/available/").json()["results"]
    assert [m["model_string"] for group in available for m in group["models"]] == ["oa:gpt-4o-mini"]
    ids = {m["id"] for m in _get(secret, "/v1/models").json()["data"]}
    assert ids == {"oa:gpt-4o-mini"}


def test_an_unrestricted_key_sees_everything(services):
    _, secret = consumer_key_create(name="all")
    assert len(_get(secret, "/api/models/").json()["results"]) == 2
    assert len(_get(secret, "/api/selections/").json()["results"]) == 2


def test_use_models_permission_exists_for_roles_to_grant():
    permission = Permission.objects.get(codename="use_models")
    assert permission.content_type.app_label == "chat"
    assert ConsumerAPIKey.objects.count() == 0
