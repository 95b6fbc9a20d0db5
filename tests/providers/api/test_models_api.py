"""/api/models/ (the catalog) and /api/models/available/ (what a program may call)."""

import pytest

from tests.providers.api.conftest import consumer_client_for, error_of

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/models/", "/api/models/available/"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_is_401(path, anon_client, catalog):
    response = anon_client.get(path)
    assert response.status_code == 401
    error_of(response)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_consumer_key_reads_but_never_writes(path, consumer_client, catalog):
    assert consumer_client.get(path).status_code == 200
    for method in ("post", "put", "patch", "delete"):
        response = getattr(consumer_client, method)(path, {}, format="json")
        assert response.status_code in (403, 405)
    assert consumer_client.post(path, {}, format="json").status_code == 403


@pytest.mark.parametrize("path", ENDPOINTS)
def test_staff_needs_the_view_permission(path, staff_client_with, catalog):
    assert staff_client_with("view_providerconfig").get(path).status_code == 403
    assert staff_client_with("view_modelconfig").get(path).status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
def test_staff_cannot_write_through_the_read_only_catalog(path, admin_client_api, catalog):
    assert admin_client_api.post(path, {}, format="json").status_code == 405


def test_catalog_lists_every_model_with_its_current_price(admin_client_api, catalog):
    body = admin_client_api.get("/api/models/").json()
    assert body["count"] == 5
    by_string = {m["model_string"]: m for m in body["results"]}
    assert by_string["openai:gpt-3.5-turbo"]["enabled"] is False
    claude = by_string["anthropic:claude-sonnet-4-5"]
    assert claude["price"]["input"] == "3.000000"
    assert claude["price"]["cache_write"] == "3.750000"
    assert claude["price"]["source"] == "catalog"
    assert by_string["openai:gpt-4o-mini"]["price"]["input"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("provider=anthropic", {"anthropic:claude-sonnet-4-5"}),
        ("kind=embedding", {"openai:text-embedding-3-small"}),
        ("capability=vision", {"openai:gpt-4.1"}),
        ("enabled=false", {"openai:gpt-3.5-turbo"}),
        ("provider=openai&kind=chat&enabled=true", {"openai:gpt-4.1", "openai:gpt-4o-mini"}),
        ("provider=nobody", set()),
    ],
)
def test_catalog_filters(query, expected, admin_client_api, catalog):
    body = admin_client_api.get(f"/api/models/?{query}&limit=100").json()
    assert {m["model_string"] for m in body["results"]} == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [("kind=audio", "kind"), ("capability=telepathy", "capability"), ("enabled=maybe", "enabled")],
)
def test_catalog_refuses_bad_filters(query, field, admin_client_api, catalog):
    response = admin_client_api.get(f"/api/models/?{query}")
    assert response.status_code == 400
    assert field in error_of(response)["details"]["fields"]


def test_available_groups_enabled_models_of_usable_providers(admin_client_api, catalog):
    catalog["old"].provider.__class__.objects.create(
        slug="keyless", kind="openai", name="No key yet", api_key=""
    )
    body = admin_client_api.get("/api/models/available/").json()
    groups = {g["slug"]: g for g in body["results"]}
    assert set(groups) == {"anthropic", "openai"}
    openai_models = {m["model_string"] for m in groups["openai"]["models"]}
    assert openai_models == {
        "openai:gpt-4.1",
        "openai:gpt-4o-mini",
        "openai:text-embedding-3-small",
    }
    claude = groups["anthropic"]["models"][0]
    assert claude["context_window"] == 200_000
    assert claude["capabilities"] == ["tools", "streaming"]
    assert claude["prices"]["output"] == "15.000000"


def test_available_excludes_inactive_providers(admin_client_api, catalog):
    provider = catalog["claude"].provider
    provider.is_active = False
    provider.save()
    body = admin_client_api.get("/api/models/available/?kind=chat").json()
    assert [g["slug"] for g in body["results"]] == ["openai"]


def test_consumer_key_sees_only_its_models(catalog):
    client = consumer_client_for(allowed_models=["openai:gpt-4.1", "anthropic:claude-sonnet-4-5"])
    available = client.get("/api/models/available/").json()["results"]
    assert {m["model_string"] for g in available for m in g["models"]} == {
        "openai:gpt-4.1",
        "anthropic:claude-sonnet-4-5",
    }
    listed = client.get("/api/models/").json()["results"]
    assert {m["model_string"] for m in listed} == {
        "openai:gpt-4.1",
        "anthropic:claude-sonnet-4-5",
    }
