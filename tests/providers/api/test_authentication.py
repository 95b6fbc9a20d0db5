"""How callers authenticate: consumer keys (Bearer or X-Api-Key), staff tokens (knox), sessions."""

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from providers.consumers import consumer_key_create, consumer_key_revoke
from tests.providers.api.conftest import error_of, grant

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_gets_401_in_the_one_error_shape(anon_client, selections):
    response = anon_client.get("/api/selections/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["HTTP_AUTHORIZATION", "HTTP_X_API_KEY"])
def test_consumer_key_in_either_header(header, selections):
    _, secret = consumer_key_create(name="reader")
    client = APIClient()
    client.credentials(**{header: f"Bearer {secret}" if header == "HTTP_AUTHORIZATION" else secret})
    response = client.get("/api/selections/")
    assert response.status_code == 200
    assert response.json()["count"] == 2


@pytest.mark.parametrize(
    "credentials",
    [
        {"HTTP_AUTHORIZATION": "Bearer not-a-key"},
        {"HTTP_AUTHORIZATION": "Bearer abcdefgh.wrong"},
        {"HTTP_AUTHORIZATION": "Bearer two parts"},
        {"HTTP_AUTHORIZATION": "Bearer"},
        {"HTTP_X_API_KEY": ""},
        {"HTTP_X_API_KEY": "abc.d\u00e9f"},
    ],
)
def test_invalid_key_is_401(credentials, selections):
    client = APIClient()
    client.credentials(**credentials)
    response = client.get("/api/selections/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_revoked_key_is_401_at_once(selections):
    api_key, secret = consumer_key_create(name="short-lived")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/selections/").status_code == 200
    consumer_key_revoke(api_key=api_key)
    response = client.get("/api/selections/")
    assert response.status_code == 401
    assert "revoked" in error_of(response)["message"]


def test_key_of_a_superuser_owner_gets_no_staff_rights(superuser, openai_provider):
    _, secret = consumer_key_create(name="owned", owner=superuser)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/providers/").status_code == 403
    assert client.delete("/api/providers/openai/").status_code == 403


def test_staff_token_authenticates_staff(staff_user, openai_provider):
    user = grant(staff_user, "view_providerconfig")
    _, token = AuthToken.objects.create(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/providers/")
    assert response.status_code == 200
    assert [p["slug"] for p in response.json()["results"]] == ["openai"]


def test_non_staff_user_with_permissions_is_refused(django_user_model, openai_provider):
    user = grant(django_user_model.objects.create_user("plain"), "view_providerconfig")
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/providers/").status_code == 403
