"""/api/selections/: read by staff and programs, written by staff through the service layer."""

import pytest

from providers.models import ModelSelection, SelectionChange
from providers.selectors import model_selection_resolve, resolution_local_clear
from tests.providers.api.conftest import consumer_client_for, error_of

pytestmark = pytest.mark.django_db

PUT_BODY = {
    "primary": "openai:gpt-4.1",
    "fallbacks": ["anthropic:claude-sonnet-4-5"],
    "temperature": 0.5,
    "required_capabilities": ["tools"],
    "min_context_window": 128_000,
}
ENDPOINTS = [
    ("get", "/api/selections/", None, "view_modelselection"),
    ("get", "/api/selections/rag_agent/", None, "view_modelselection"),
    ("put", "/api/selections/rag_agent/", PUT_BODY, "change_modelselection"),
    ("patch", "/api/selections/rag_agent/", {"temperature": 1.0}, "change_modelselection"),
]


@pytest.mark.parametrize(("method", "path", "body", "perm"), ENDPOINTS)
def test_anonymous_is_401(method, path, body, perm, anon_client, selections):
    response = getattr(anon_client, method)(path, body, format="json")
    assert response.status_code == 401
    error_of(response)


@pytest.mark.parametrize(("method", "path", "body", "perm"), ENDPOINTS)
def test_consumer_key_reads_but_gets_403_writing(
    method, path, body, perm, consumer_client, selections
):
    response = getattr(consumer_client, method)(path, body, format="json")
    if method == "get":
        assert response.status_code == 200
    else:
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
        assert not SelectionChange.objects.filter(source="api").exists()


@pytest.mark.parametrize(("method", "path", "body", "perm"), ENDPOINTS)
def test_staff_without_the_permission_is_403(
    method, path, body, perm, staff_client_with, selections
):
    others = {"view_modelselection", "change_modelselection", "add_modelselection"} - {perm}
    if perm == "change_modelselection":
        others.discard("view_modelselection")  # reads are allowed; writing needs change
        others.add("view_modelselection")
    response = getattr(staff_client_with(*others), method)(path, body, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path", "body", "perm"), ENDPOINTS)
def test_staff_with_the_permission_succeeds(
    method, path, body, perm, staff_client_with, selections
):
    response = getattr(staff_client_with(perm), method)(path, body, format="json")
    assert response.status_code == 200, response.content


def test_retrieve_shows_the_chain(admin_client_api, selections):
    body = admin_client_api.get("/api/selections/rag_agent/").json()
    assert body["primary"] == "anthropic:claude-sonnet-4-5"
    assert body["fallbacks"] == ["openai:gpt-4.1"]
    assert body["temperature"] == 0.2
    assert [(c["model_string"], c["role"], c["usable"]) for c in body["chain"]] == [
        ("anthropic:claude-sonnet-4-5", "primary", True),
        ("openai:gpt-4.1", "fallback", True),
    ]


def test_put_replaces_and_records_who_changed_what(admin_client_api, superuser, selections):
    response = admin_client_api.put("/api/selections/rag_agent/", PUT_BODY, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["primary"] == "openai:gpt-4.1"
    assert body["fallbacks"] == ["anthropic:claude-sonnet-4-5"]
    assert body["updated_by"] == superuser.username
    change = SelectionChange.objects.filter(service="rag_agent", source="api").get()
    assert change.changed_by == superuser
    assert change.before["primary"] == "anthropic:claude-sonnet-4-5"
    assert change.after["primary"] == "openai:gpt-4.1"


def test_patch_changes_only_what_is_sent(admin_client_api, selections):
    response = admin_client_api.patch(
        "/api/selections/rag_agent/", {"max_tokens": 512}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["max_tokens"] == 512
    assert body["temperature"] == 0.2
    assert body["fallbacks"] == ["openai:gpt-4.1"]


def test_put_creates_a_new_service_with_the_add_permission(staff_client_with, selections):
    body = {"primary": "openai:gpt-4o-mini"}
    refused = staff_client_with("change_modelselection").put(
        "/api/selections/document_agent/", body, format="json"
    )
    assert refused.status_code == 403
    created = staff_client_with("add_modelselection", "change_modelselection").put(
        "/api/selections/document_agent/", body, format="json"
    )
    assert created.status_code == 201
    assert ModelSelection.objects.filter(service="document_agent").exists()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"primary": "gpt-4.1"}, "primary", "Malformed model string"),
        ({"primary": "nowhere:gpt-4.1"}, "primary", "Unknown provider"),
        ({"primary": "openai:gpt-9"}, "primary", "Unknown model"),
        ({"primary": "openai:gpt-3.5-turbo"}, "primary", "disabled"),
        ({"fallbacks": ["openai:gpt-3.5-turbo"]}, "fallbacks", "disabled"),
        ({"fallbacks": ["openai:text-embedding-3-small"]}, "fallbacks", "kind"),
        ({"required_capabilities": ["vision"]}, "primary", "lacks the required capability"),
        ({"required_capabilities": ["telepathy"]}, "required_capabilities", "telepathy"),
        ({"temperature": 3.5}, "temperature", "2"),
        ({"top_p": -0.1}, "top_p", "0"),
        ({"max_tokens": 0}, "max_tokens", "1"),
        ({"min_context_window": 500_000}, "primary", "context window"),
        ({"primary": 42}, "primary", ""),
    ],
)
def test_bad_selection_gets_field_errors(body, field, words, admin_client_api, selections):
    full = {"primary": "anthropic:claude-sonnet-4-5"} | body
    for method, payload in (("put", full), ("patch", body)):
        response = getattr(admin_client_api, method)(
            "/api/selections/rag_agent/", payload, format="json"
        )
        assert response.status_code == 400, (method, response.content)
        error = error_of(response)
        assert error["code"] == "invalid"
        messages = str(error["details"]["fields"][field])  # a list, or {index: [...]}
        assert words in messages, (method, error)
    assert not SelectionChange.objects.filter(source="api").exists()


def test_embeddings_service_needs_an_embedding_model(admin_client_api, selections):
    response = admin_client_api.patch(
        "/api/selections/embeddings/", {"primary": "openai:gpt-4.1"}, format="json"
    )
    assert response.status_code == 400
    assert "embedding model" in error_of(response)["details"]["fields"]["primary"][0]


@pytest.mark.parametrize("method", ["get", "patch"])
def test_unknown_service_is_404_listing_the_valid_ones(method, admin_client_api, selections):
    response = getattr(admin_client_api, method)(
        "/api/selections/rag/", {"temperature": 1}, format="json"
    )
    assert response.status_code == 404
    error = error_of(response)
    assert "embeddings, rag_agent" in error["message"]
    assert error["details"]["valid_services"] == ["embeddings", "rag_agent"]


def test_consumer_key_sees_only_its_services(selections):
    client = consumer_client_for(allowed_services=["rag_agent"])
    listed = client.get("/api/selections/").json()
    assert [s["service"] for s in listed["results"]] == ["rag_agent"]
    assert client.get("/api/selections/rag_agent/").status_code == 200
    hidden = client.get("/api/selections/embeddings/")
    assert hidden.status_code == 404
    assert error_of(hidden)["details"]["valid_services"] == ["rag_agent"]
    assert error_of(hidden)["message"].endswith("valid services: rag_agent.")


@pytest.mark.django_db(transaction=True)
def test_an_api_change_is_resolved_at_once_from_the_shared_cache(admin_client_api, selections):
    assert model_selection_resolve(name="rag_agent").candidates[0].model_string == (
        "anthropic:claude-sonnet-4-5"
    )
    response = admin_client_api.patch(
        "/api/selections/rag_agent/",
        {"primary": "openai:gpt-4.1", "fallbacks": []},
        format="json",
    )
    assert response.status_code == 200
    resolution_local_clear()  # another process: nothing local, only the shared cache
    resolved = model_selection_resolve(name="rag_agent")
    assert [c.model_string for c in resolved.candidates] == ["openai:gpt-4.1"]


def test_cache_prompt_is_a_selection_option(admin_client_api, selections):
    assert admin_client_api.get("/api/selections/rag_agent/").json()["cache_prompt"] is False
    response = admin_client_api.patch(
        "/api/selections/rag_agent/", {"cache_prompt": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["cache_prompt"] is True
    change = SelectionChange.objects.filter(service="rag_agent").latest("changed_at")
    assert change.before["cache_prompt"] is False and change.after["cache_prompt"] is True
    resolution_local_clear()
    assert model_selection_resolve(name="rag_agent").overrides.cache_prompt is True
    # PUT replaces everything: omitted, the option is off again.
    put = admin_client_api.put("/api/selections/rag_agent/", PUT_BODY, format="json")
    assert put.json()["cache_prompt"] is False
    bad = admin_client_api.patch(
        "/api/selections/rag_agent/", {"cache_prompt": "often"}, format="json"
    )
    assert bad.status_code == 400


def test_cache_prompt_service_refuses_a_non_boolean(selections):
    from config.errors import InvalidInput
    from providers.services.selection import model_selection_update

    with pytest.raises(InvalidInput) as caught:
        model_selection_update(selection=selections["rag_agent"], cache_prompt="yes")
    assert "cache_prompt" in caught.value.details["fields"]
