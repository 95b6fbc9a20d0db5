"""Model groups through /api/groups, the services, the admin, and selections that route
through a group."""

import pytest

from config.errors import Conflict, InvalidInput
from providers.models import ModelGroup, ModelSelection, ProviderConfig, SelectionChange
from providers.selectors import model_selection_resolve
from providers.services.group import model_group_delete, model_group_upsert
from providers.services.selection import model_selection_update, model_selection_upsert
from tests.providers.api.conftest import error_of

pytestmark = pytest.mark.django_db

POOL = {
    "strategy": "most_headroom",
    "members": [
        {"model": "openai:gpt-4.1", "weight": 3, "rpm_limit": 600, "tpm_limit": 150000},
        {"model": "anthropic:claude-sonnet-4-5", "weight": 1},
    ],
}


def test_put_creates_then_replaces_and_get_reads(admin_client_api, catalog):
    created = admin_client_api.put("/api/groups/pool/", POOL, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["model_string"] == "group:pool" and body["strategy"] == "most_headroom"
    assert body["members"][0] == {
        "model": "openai:gpt-4.1",
        "weight": 3,
        "rpm_limit": 600,
        "tpm_limit": 150000,
        "enabled": True,
    }
    replaced = admin_client_api.put(
        "/api/groups/pool/", {"members": [{"model": "openai:gpt-4o-mini"}]}, format="json"
    )
    assert replaced.status_code == 200
    assert replaced.json()["strategy"] == "weighted"
    assert [m["model"] for m in replaced.json()["members"]] == ["openai:gpt-4o-mini"]
    listed = admin_client_api.get("/api/groups/").json()
    assert [g["name"] for g in listed["results"]] == ["pool"]
    assert admin_client_api.get("/api/groups/pool/").json()["members"][0]["weight"] == 1


def test_consumer_reads_but_cannot_write(consumer_client, catalog):
    model_group_upsert(name="pool", members=[{"model": "openai:gpt-4.1"}])
    assert consumer_client.get("/api/groups/pool/").status_code == 200
    assert consumer_client.put("/api/groups/pool/", POOL, format="json").status_code == 403


def test_staff_needs_add_permission_to_create(staff_client_with, catalog):
    client = staff_client_with("change_modelgroup", "view_modelgroup")
    refused = client.put("/api/groups/pool/", POOL, format="json")
    assert refused.status_code == 403
    model_group_upsert(name="pool", members=[{"model": "openai:gpt-4.1"}])
    assert client.put("/api/groups/pool/", POOL, format="json").status_code == 200


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([], "at least one member"),
        ([{"model": "openai:nope"}], "Unknown model"),
        ([{"model": "openai:gpt-4.1"}, {"model": "openai:gpt-4.1"}], "appears twice"),
        (
            [{"model": "openai:gpt-4.1"}, {"model": "openai:text-embedding-3-small"}],
            "one kind",
        ),
        ([{"model": "openai:gpt-3.5-turbo"}], "cannot be used"),
        ([{"model": "openai:gpt-4.1", "weight": 0}], "weight above 0"),
    ],
)
def test_invalid_groups_are_refused_field_by_field(admin_client_api, catalog, members, message):
    response = admin_client_api.put("/api/groups/pool/", {"members": members}, format="json")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert message in str(error["details"]["fields"])
    assert not ModelGroup.objects.exists()


def test_service_rejects_bad_names_strategies_and_member_fields(catalog):
    with pytest.raises(InvalidInput) as caught:
        model_group_upsert(
            name="Bad Name",
            strategy="fastest",
            members=[
                {"model": "openai:gpt-4.1", "color": "red", "rpm_limit": 0},
                "openai:gpt-4o-mini",
            ],
        )
    fields = caught.value.details["fields"]
    assert set(fields) == {"name", "strategy", "members"}
    assert any("Unknown member field color" in m for m in fields["members"])
    assert any("rpm_limit" in m for m in fields["members"])


def test_unknown_group_is_404_and_delete(admin_client_api, catalog):
    assert admin_client_api.get("/api/groups/nope/").status_code == 404
    model_group_upsert(name="pool", members=[{"model": "openai:gpt-4.1"}])
    assert admin_client_api.delete("/api/groups/pool/").status_code == 204
    assert not ModelGroup.objects.exists()


def test_a_group_used_by_a_selection_cannot_be_deleted(admin_client_api, catalog):
    group = model_group_upsert(
        name="pool", members=[{"model": "openai:gpt-4.1"}, {"model": "openai:gpt-4o-mini"}]
    )
    model_selection_upsert(service="rag", primary="openai:gpt-4.1", primary_group="pool")
    response = admin_client_api.delete("/api/groups/pool/")
    assert response.status_code == 409
    assert error_of(response)["details"]["services"] == ["rag"]
    with pytest.raises(Conflict):
        model_group_delete(group=group)


def test_selection_routes_through_its_primary_group(admin_client_api, catalog):
    model_group_upsert(
        name="pool", members=[{"model": "openai:gpt-4.1"}, {"model": "openai:gpt-4o-mini"}]
    )
    response = admin_client_api.put(
        "/api/selections/rag/",
        {
            "primary": "openai:gpt-4o-mini",
            "primary_group": "pool",
            "fallbacks": ["anthropic:claude-sonnet-4-5", "openai:gpt-4.1"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["primary_group"] == "pool"
    resolved = model_selection_resolve(name="rag")
    assert resolved.group is not None and resolved.group.name == "pool"
    # Members first, then the fallbacks that are not members.
    assert [c.model_string for c in resolved.candidates] == [
        "openai:gpt-4.1",
        "openai:gpt-4o-mini",
        "anthropic:claude-sonnet-4-5",
    ]
    cleared = admin_client_api.patch("/api/selections/rag/", {"primary_group": None}, format="json")
    assert cleared.json()["primary_group"] is None


def test_selection_primary_must_be_a_member_and_the_group_must_exist(catalog):
    model_group_upsert(name="pool", members=[{"model": "openai:gpt-4o-mini"}])
    with pytest.raises(InvalidInput) as caught:
        model_selection_upsert(service="rag", primary="openai:gpt-4.1", primary_group="pool")
    assert "must be an enabled member" in caught.value.details["fields"]["primary_group"][0]
    with pytest.raises(InvalidInput) as caught:
        model_selection_upsert(service="rag", primary="openai:gpt-4.1", primary_group="nope")
    assert "Unknown model group" in caught.value.details["fields"]["primary_group"][0]
    selection = model_selection_upsert(service="rag", primary="openai:gpt-4o-mini")
    with pytest.raises(InvalidInput):
        model_selection_update(selection=selection, primary_group=5)


def test_a_disabled_group_leaves_the_primary_alone(catalog, django_capture_on_commit_callbacks):
    group = model_group_upsert(
        name="pool", members=[{"model": "openai:gpt-4.1"}, {"model": "openai:gpt-4o-mini"}]
    )
    model_selection_upsert(service="rag", primary="openai:gpt-4.1", primary_group="group:pool")
    with django_capture_on_commit_callbacks(execute=True):
        model_group_upsert(name="pool", members=[{"model": "openai:gpt-4.1"}], enabled=False)
    resolved = model_selection_resolve(name="rag")
    assert resolved.group is None
    assert [c.model_string for c in resolved.candidates] == ["openai:gpt-4.1"]
    assert group.pk == ModelGroup.objects.get().pk


def test_group_slug_is_reserved_for_providers(admin_client_api, openai_fake):
    response = admin_client_api.post(
        "/api/providers/",
        {"slug": "group", "kind": "openai", "name": "G", "api_key": "sk-x"},
        format="json",
    )
    assert response.status_code == 400
    assert not ProviderConfig.objects.filter(slug="group").exists()


def test_admin_group_pages(client, superuser, catalog):
    client.force_login(superuser)
    group = model_group_upsert(
        name="pool",
        members=[{"model": "openai:gpt-4.1", "weight": 2}, {"model": "openai:gpt-4o-mini"}],
    )
    listing = client.get("/admin/providers/modelgroup/")
    assert listing.status_code == 200 and b"weight 2" in listing.content
    page = client.get(f"/admin/providers/modelgroup/{group.pk}/change/")
    assert page.status_code == 200
    data = {
        "name": "pool",
        "strategy": "least_busy",
        "enabled": "on",
        "description": "",
        "members-TOTAL_FORMS": "2",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
        "members-0-model_config": str(catalog["gpt"].pk),
        "members-0-weight": "1",
        "members-0-position": "0",
        "members-0-enabled": "on",
        "members-1-model_config": str(catalog["embed"].pk),
        "members-1-weight": "1",
        "members-1-position": "1",
        "members-1-enabled": "on",
    }
    refused = client.post("/admin/providers/modelgroup/add/", {**data, "name": "mixed"})
    assert refused.status_code == 200 and b"one kind" in refused.content
    data["members-1-model_config"] = str(catalog["mini"].pk)
    added = client.post("/admin/providers/modelgroup/add/", {**data, "name": "other"})
    assert added.status_code == 302, added.content[:2000]
    assert ModelGroup.objects.get(name="other").members.count() == 2


def test_selection_with_a_group_fallback_through_the_api(admin_client_api, catalog):
    model_group_upsert(
        name="pool",
        members=[{"model": "openai:gpt-4.1"}, {"model": "anthropic:claude-sonnet-4-5"}],
    )
    created = admin_client_api.put(
        "/api/selections/rag/",
        {"primary": "openai:gpt-4o-mini", "fallbacks": ["group:pool"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["fallbacks"] == ["group:pool"]
    assert body["chain"][1] == {
        "model_string": "group:pool",
        "role": "fallback",
        "usable": True,
        "reason": "",
    }
    resolved = model_selection_resolve(name="rag")
    assert resolved.group is None and [g.name for g in resolved.fallback_groups] == ["pool"]
    assert [c.model_string for c in resolved.candidates] == [
        "openai:gpt-4o-mini",
        "openai:gpt-4.1",
        "anthropic:claude-sonnet-4-5",
    ]
    # PATCH: a model after the group; the audit trail keeps the group by its model string.
    updated = admin_client_api.patch(
        "/api/selections/rag/", {"fallbacks": ["group:pool", "openai:gpt-4.1"]}, format="json"
    )
    assert updated.status_code == 200, updated.content
    assert updated.json()["fallbacks"] == ["group:pool", "openai:gpt-4.1"]
    change = SelectionChange.objects.filter(service="rag").order_by("-id").first()
    assert change.before["fallbacks"] == ["group:pool"]
    assert change.after["fallbacks"] == ["group:pool", "openai:gpt-4.1"]
    # gpt-4.1 is already in the chain through the group: tried once, at the group's place.
    assert [c.model_string for c in model_selection_resolve(name="rag").candidates] == [
        "openai:gpt-4o-mini",
        "openai:gpt-4.1",
        "anthropic:claude-sonnet-4-5",
    ]
    # A group that serves as a fallback cannot be deleted either.
    refused = admin_client_api.delete("/api/groups/pool/")
    assert refused.status_code == 409 and error_of(refused)["details"]["services"] == ["rag"]


def test_group_fallback_validation_errors_in_the_api_shape(admin_client_api, catalog):
    model_group_upsert(name="vectors", members=[{"model": "openai:text-embedding-3-small"}])
    model_group_upsert(name="off", members=[{"model": "openai:gpt-4.1"}], enabled=False)
    model_group_upsert(name="pool", members=[{"model": "openai:gpt-4.1"}])
    cases = [
        (["group:nope"], "Unknown model group 'nope'."),
        (["group:off"], "Fallback group:off cannot be used: the group is disabled."),
        (["group:vectors"], "Member openai:text-embedding-3-small of fallback group:vectors is"),
        (["group:pool", "group:pool"], "group:pool appears twice in the chain"),
    ]
    for fallbacks, message in cases:
        response = admin_client_api.put(
            "/api/selections/rag/",
            {"primary": "anthropic:claude-sonnet-4-5", "fallbacks": fallbacks},
            format="json",
        )
        assert response.status_code == 400, response.content
        error = error_of(response)
        assert error["code"] == "invalid"
        assert error["details"]["fields"]["fallbacks"][0].startswith(message), error
    assert not ModelSelection.objects.exists()


def test_a_fallback_group_change_invalidates_the_resolution(
    catalog, django_capture_on_commit_callbacks
):
    model_group_upsert(
        name="pool",
        members=[{"model": "openai:gpt-4.1"}, {"model": "anthropic:claude-sonnet-4-5"}],
    )
    model_selection_upsert(service="rag", primary="openai:gpt-4o-mini", fallbacks=["group:pool"])
    assert len(model_selection_resolve(name="rag").candidates) == 3
    with django_capture_on_commit_callbacks(execute=True):
        model_group_upsert(name="pool", members=[{"model": "openai:gpt-4.1"}])
    resolved = model_selection_resolve(name="rag")
    assert [c.model_string for c in resolved.candidates] == [
        "openai:gpt-4o-mini",
        "openai:gpt-4.1",
    ]
    with django_capture_on_commit_callbacks(execute=True):
        model_group_upsert(name="pool", members=[{"model": "openai:gpt-4.1"}], enabled=False)
    resolved = model_selection_resolve(name="rag")
    assert resolved.fallback_groups == ()
    assert [c.model_string for c in resolved.candidates] == ["openai:gpt-4o-mini"]
