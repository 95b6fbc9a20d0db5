"""/api/providers/: staff CRUD by slug, connection test, live model list; keys never leave."""

import pytest

from providers.models import ProviderConfig
from tests.providers.api.conftest import OPENAI_KEY, error_of

pytestmark = pytest.mark.django_db

NEW_KEY = "sk-brand-new-secret-key-9876"


def new_provider(**fields):
    return {
        "slug": "groq",
        "kind": "openai_compatible",
        "name": "Groq",
        "base_url": "https://api.groq.example/openai/v1",
        "api_key": NEW_KEY,
    } | fields


# -- the permission matrix ------------------------------------------------------------------
ENDPOINTS = [
    # (method, path, body, permission needed)
    ("get", "/api/providers/", None, "view_providerconfig"),
    ("post", "/api/providers/", new_provider(), "add_providerconfig"),
    ("get", "/api/providers/openai/", None, "view_providerconfig"),
    (
        "put",
        "/api/providers/openai/",
        {"slug": "openai", "kind": "openai", "name": "Renamed"},
        "change_providerconfig",
    ),
    ("patch", "/api/providers/openai/", {"name": "Renamed"}, "change_providerconfig"),
    ("delete", "/api/providers/openai/", None, "delete_providerconfig"),
    ("post", "/api/providers/openai/test/", None, "change_providerconfig"),
    ("get", "/api/providers/openai/models/", None, "view_providerconfig"),
]


@pytest.mark.parametrize(("method", "path", "body", "perm"), ENDPOINTS)
def test_anonymous_is_401(method, path, body, perm, anon_client, openai_provider):
    response = getattr(anon_client, method)(path, body, format="json")
    assert response.status_code == 401
    error_of(response)


@pytest.mark.parametrize(("method", "path", "body", "perm"), ENDPOINTS)
def test_consumer_key_is_403(method, path, body, perm, consumer_client, openai_provider):
    response = getattr(consumer_client, method)(path, body, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path", "body", "perm"), ENDPOINTS)
def test_staff_without_the_permission_is_403(
    method, path, body, perm, staff_client_with, openai_provider
):
    others = [p for (_, _, _, p) in ENDPOINTS if p != perm]
    client = staff_client_with(*set(others))
    response = getattr(client, method)(path, body, format="json")
    assert response.status_code == 403
    assert ProviderConfig.objects.filter(slug="openai", name="OpenAI (fake)").exists()


@pytest.mark.parametrize(("method", "path", "body", "perm"), ENDPOINTS)
def test_staff_with_the_permission_succeeds(
    method, path, body, perm, staff_client_with, openai_provider
):
    client = staff_client_with(perm)
    response = getattr(client, method)(path, body, format="json")
    assert 200 <= response.status_code < 300, response.content
    assert OPENAI_KEY not in response.content.decode()
    assert NEW_KEY not in response.content.decode()


# -- behaviour ---------------------------------------------------------------------------------
def test_create_stores_the_key_encrypted_and_answers_only_a_hint(admin_client_api, superuser):
    response = admin_client_api.post(
        "/api/providers/", new_provider(extra_headers={"X-Team": "search"}), format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert "api_key" not in body and "extra_headers" not in body
    assert body["api_key_set"] is True
    assert body["api_key_hint"] == "set, ends in …9876"
    assert body["extra_header_names"] == ["X-Team"]
    assert body["created_by"] == body["updated_by"] == superuser.username
    provider = ProviderConfig.objects.get(slug="groq")
    assert provider.api_key == NEW_KEY
    assert provider.extra_headers_dict() == {"X-Team": "search"}
    assert provider.created_by == superuser


def test_update_keeps_omitted_key_and_clears_an_empty_one(admin_client_api, openai_provider):
    response = admin_client_api.patch("/api/providers/openai/", {"name": "x"}, format="json")
    assert response.json()["api_key_set"] is True
    assert ProviderConfig.objects.get(slug="openai").api_key == OPENAI_KEY
    response = admin_client_api.patch("/api/providers/openai/", {"api_key": ""}, format="json")
    assert response.json()["api_key_set"] is False
    assert ProviderConfig.objects.get(slug="openai").api_key == ""


def test_list_filters_and_paginates(admin_client_api, openai_provider, anthropic_provider):
    body = admin_client_api.get("/api/providers/?limit=1").json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    body = admin_client_api.get("/api/providers/?kind=anthropic").json()
    assert [p["slug"] for p in body["results"]] == ["anthropic"]
    response = admin_client_api.get("/api/providers/?is_active=perhaps")
    assert response.status_code == 400
    assert "is_active" in error_of(response)["details"]["fields"]


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"slug": "Bad Slug!"}, "slug"),
        ({"slug": "openai"}, "slug"),  # taken
        ({"kind": "cohere"}, "kind"),
        ({"base_url": ""}, "base_url"),
        ({"base_url": "ftp://files.example/v1"}, "base_url"),
        ({"base_url": "not a url"}, "base_url"),
        ({"extra_headers": {"Bad Header": "x"}}, "extra_headers"),
        ({"api_key": "sk-with\nnewline"}, "api_key"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"max_retries": 99}, "max_retries"),
        ({"name": ""}, "name"),
        ({"slug": "test"}, "slug"),  # would be shadowed by POST /api/providers/test/
    ],
)
def test_bad_input_gets_field_errors(fields, bad_field, admin_client_api, openai_provider):
    response = admin_client_api.post("/api/providers/", new_provider(**fields), format="json")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    assert bad_field in error["details"]["fields"], error
    assert NEW_KEY not in response.content.decode()


def test_unknown_kind_message_lists_the_kinds(admin_client_api):
    response = admin_client_api.post("/api/providers/", new_provider(kind="cohere"), format="json")
    message = error_of(response)["details"]["fields"]["kind"][0]
    assert "openai_compatible" in message and "cohere" in message


def test_slug_cannot_change(admin_client_api, openai_provider):
    response = admin_client_api.patch("/api/providers/openai/", {"slug": "oa"}, format="json")
    assert response.status_code == 400
    assert "slug" in error_of(response)["details"]["fields"]


def test_delete_of_a_provider_in_use_is_409(admin_client_api, selections):
    response = admin_client_api.delete("/api/providers/anthropic/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    assert ProviderConfig.objects.filter(slug="anthropic").exists()


def test_unknown_provider_is_404(admin_client_api):
    response = admin_client_api.get("/api/providers/nope/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# -- connection test and live models against the fake OpenAI server ---------------------------
def test_connection_test_ok(admin_client_api, openai_provider, openai_fake):
    response = admin_client_api.post("/api/providers/openai/test/")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["error"] is None
    assert body["model_count"] == len(openai_fake.models)
    assert body["checked_at"]
    provider = ProviderConfig.objects.get(slug="openai")
    assert provider.last_check_ok is True


def test_connection_test_reports_the_mapped_error(admin_client_api, openai_provider, openai_fake):
    openai_fake.api_key = "sk-some-other-key-000000"
    response = admin_client_api.post("/api/providers/openai/test/")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["error"]["code"] == "provider_authentication_failed"
    assert OPENAI_KEY not in response.content.decode()
    assert ProviderConfig.objects.get(slug="openai").last_check_ok is False


def test_live_models_are_listed_and_cached(admin_client_api, openai_provider, openai_fake):
    response = admin_client_api.get("/api/providers/openai/models/")
    assert response.status_code == 200
    body = response.json()
    assert sorted(m["id"] for m in body["results"]) == sorted(openai_fake.models)
    assert body["count"] == len(openai_fake.models)
    calls = len(openai_fake.requests)
    again = admin_client_api.get("/api/providers/openai/models/?limit=2").json()
    assert len(openai_fake.requests) == calls  # answered from the shared cache
    assert len(again["results"]) == 2


@pytest.mark.parametrize(
    ("status", "code", "answered"),
    [
        (503, "provider_unavailable", 503),
        (429, "provider_rate_limited", 429),
        (401, "provider_authentication_failed", 502),
    ],
)
def test_live_models_provider_errors_keep_their_status_and_code(
    status, code, answered, admin_client_api, openai_provider, openai_fake
):
    openai_fake.faults.status = status
    response = admin_client_api.get("/api/providers/openai/models/")
    assert response.status_code == answered
    assert error_of(response)["code"] == code
    assert OPENAI_KEY not in response.content.decode()
