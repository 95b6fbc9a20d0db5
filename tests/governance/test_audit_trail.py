"""Every configuration change leaves one event: who, whence, the address, what changed, with
secrets reported only as set/changed/cleared. Through admin, the API and commands."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from knox.models import AuthToken
from rest_framework.test import APIClient

from config.audit.models import AuditEvent
from providers.consumers import consumer_key_revoke
from providers.models import ConsumerAPIKey, ModelConfig, ProviderConfig
from tests.fixtures import confirmed_second_factor
from tests.governance.helpers import event_text, events, member, only_event

pytestmark = pytest.mark.django_db

OLD_KEY = "sk-old-provider-secret-1111aaaa"
NEW_KEY = "sk-new-provider-secret-2222bbbb"


@pytest.fixture
def admin(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def api(superuser):
    client = APIClient()
    client.force_login(superuser)
    return client


@pytest.fixture
def provider(db):
    return ProviderConfig.objects.create(
        slug="openai", kind="openai", name="OpenAI", api_key=OLD_KEY
    )


def provider_form(**overrides):
    return {
        "slug": "openai",
        "kind": "openai",
        "name": "OpenAI",
        "base_url": "",
        "organization": "",
        "project": "",
        "timeout_seconds": "30",
        "max_retries": "2",
        "is_active": "on",
        "new_api_key": "",
        "new_extra_headers": "",
    } | overrides


# -- providers ------------------------------------------------------------------------------
def test_provider_created_in_admin(admin, superuser):
    response = admin.post(
        reverse("admin:providers_providerconfig_add"),
        provider_form(slug="groq", name="Groq", new_api_key=NEW_KEY),
    )
    assert response.status_code == 302, response.content.decode()[:1000]
    event = only_event("providers.providerconfig")
    created = ProviderConfig.objects.get(slug="groq")
    assert (event.action, event.source, event.actor, event.actor_type) == (
        "create", "admin", superuser.username, "user",
    )  # fmt: skip
    assert event.actor_id == str(superuser.pk)
    assert event.ip == "127.0.0.1"
    assert event.object_id == str(created.pk)
    assert event.changes["api_key"] == {"secret": "set"}
    assert event.changes["name"] == {"after": "Groq"}
    assert NEW_KEY not in event_text(event)


def test_provider_key_changed_in_admin_says_only_key_changed(admin, provider):
    response = admin.post(
        reverse("admin:providers_providerconfig_change", args=[provider.pk]),
        provider_form(name="OpenAI prod", new_api_key=NEW_KEY),
    )
    assert response.status_code == 302, response.content.decode()[:1000]
    event = only_event("providers.providerconfig", action="update")
    assert event.changes == {
        "api_key": {"secret": "changed"},
        "credentials_binding": {"secret": "changed"},  # encrypted, so masked like the key
        "name": {"before": "OpenAI", "after": "OpenAI prod"},
        "timeout_seconds": {"before": 60.0, "after": 30.0},
    }
    assert OLD_KEY not in event_text(event) and NEW_KEY not in event_text(event)


def test_provider_created_and_changed_through_the_api(api, superuser):
    body = {"slug": "groq", "kind": "openai_compatible", "name": "Groq",
            "base_url": "https://api.groq.example/openai/v1", "api_key": NEW_KEY}  # fmt: skip
    assert api.post("/api/providers/", body, format="json").status_code == 201
    created = only_event("providers.providerconfig", action="create")
    assert (created.source, created.actor) == ("api", superuser.username)
    assert created.changes["api_key"] == {"secret": "set"}
    response = api.patch("/api/providers/groq/", {"api_key": OLD_KEY}, format="json")
    assert response.status_code == 200, response.content
    updated = only_event("providers.providerconfig", action="update")
    assert updated.changes == {
        "api_key": {"secret": "changed"},
        "credentials_binding": {"secret": "changed"},
    }
    assert api.patch("/api/providers/groq/", {"api_key": ""}, format="json").status_code == 200
    cleared = events("providers.providerconfig", action="update")[-1]
    assert cleared.changes["api_key"] == {"secret": "cleared"}
    assert set(cleared.changes) <= {"api_key", "credentials_binding"}
    for event in events("providers.providerconfig"):
        assert NEW_KEY not in event_text(event) and OLD_KEY not in event_text(event)


def test_a_save_that_changes_nothing_leaves_no_event(provider):
    before = AuditEvent.objects.count()
    provider.save()
    ProviderConfig.objects.get(pk=provider.pk).save()
    assert AuditEvent.objects.count() == before


def test_provider_deleted_in_admin(admin, provider):
    url = reverse("admin:providers_providerconfig_delete", args=[provider.pk])
    assert admin.post(url, {"post": "yes"}).status_code == 302
    event = only_event("providers.providerconfig", action="delete")
    assert event.object_id == str(provider.pk)
    assert event.changes["api_key"] == {"before": {"secret": "set"}}
    assert OLD_KEY not in event_text(event)


# -- models and prices ----------------------------------------------------------------------
def test_model_enabled_in_admin_and_loaded_by_command(admin, provider, superuser):
    model = ModelConfig.objects.create(provider=provider, name="gpt-x", enabled=False)
    model_change = reverse("admin:providers_modelconfig_change", args=[model.pk])
    data = {
        "display_name": "", "kind": "chat", "enabled": "on", "available": "on",
        "context_window": "", "max_output_tokens": "", "capabilities": ["streaming"],
        "price_input": "2.50", "price_output": "8", "price_cached_input": "",
        "price_cache_write": "", "prices-TOTAL_FORMS": "0", "prices-INITIAL_FORMS": "0",
        "prices-MIN_NUM_FORMS": "0", "prices-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = admin.post(model_change, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    event = events("providers.modelconfig", action="update")[-1]
    assert event.changes["enabled"] == {"before": False, "after": True}
    assert (event.source, event.actor) == ("admin", superuser.username)
    price = only_event("providers.modelprice", action="create", source="admin")
    assert Decimal(price.changes["input"]["after"]) == Decimal("2.5")
    assert Decimal(price.changes["output"]["after"]) == Decimal(8)

    out = StringIO()
    call_command("load_model_catalog", stdout=out)
    loaded = events("providers.modelconfig", action="create", source="command")
    assert loaded and all(e.actor == "system" and e.actor_type == "system" for e in loaded)
    assert len(loaded) == ModelConfig.objects.count()  # gpt-x above was made from code, too
    prices = events("providers.modelprice", action="create", source="command")
    assert prices and all(e.actor == "system" for e in prices)


# -- selections -----------------------------------------------------------------------------
def test_selection_history_is_folded_into_the_trail(api, provider, superuser):
    ModelConfig.objects.create(provider=provider, name="gpt-a", enabled=True, capabilities=["chat"])
    ModelConfig.objects.create(provider=provider, name="gpt-b", enabled=True, capabilities=["chat"])
    response = api.put("/api/selections/rag/", {"primary": "openai:gpt-a"}, format="json")
    assert response.status_code in (200, 201), response.content
    created = only_event("providers.modelselection", action="create")
    assert created.object_repr == "rag" and created.source == "api"
    assert created.changes["primary"] == {"before": None, "after": "openai:gpt-a"}
    response = api.patch("/api/selections/rag/", {"primary": "openai:gpt-b"}, format="json")
    assert response.status_code == 200, response.content
    updated = only_event("providers.modelselection", action="update")
    assert updated.changes == {"primary": {"before": "openai:gpt-a", "after": "openai:gpt-b"}}
    assert updated.actor == superuser.username


# -- budgets and rate limits ----------------------------------------------------------------
def test_budget_and_rate_limit_added_in_admin(admin, superuser):
    response = admin.post(
        reverse("admin:usage_budget_add"),
        {"name": "all", "scope_type": "global", "scope_value": "", "period": "monthly",
         "limit_usd": "100", "alert_thresholds": "[80, 100]", "hard": "on", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    budget = only_event("usage.budget", action="create")
    assert budget.changes["limit_usd"] == {"after": "100.0000"} or budget.changes["limit_usd"][
        "after"
    ].startswith("100")
    assert (budget.source, budget.actor) == ("admin", superuser.username)
    response = admin.post(
        reverse("admin:usage_ratelimit_add"),
        {"scope_type": "service", "scope_value": "rag", "requests_per_minute": "60",
         "tokens_per_minute": "", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    limit = only_event("usage.ratelimit", action="create")
    assert limit.changes["requests_per_minute"] == {"after": 60}


# -- consumer keys and staff tokens ---------------------------------------------------------
def test_consumer_key_created_by_command_and_revoked(admin, superuser):
    out = StringIO()
    call_command("create_api_key", "billing", "--services", "rag", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    key = ConsumerAPIKey.objects.get(name="billing")
    created = only_event("providers.consumerapikey", action="create")
    assert (created.source, created.actor, created.object_id) == ("command", "system", key.pk)
    assert created.changes["hashed_key"] == {"secret": "set"}
    assert created.changes["allowed_services"] == {"after": ["rag"]}
    assert secret not in event_text(created) and key.hashed_key not in event_text(created)
    consumer_key_revoke(api_key=key)
    revoked = only_event("providers.consumerapikey", action="revoke")
    assert revoked.changes == {"revoked": {"before": False, "after": True}}


def test_consumer_key_created_and_narrowed_in_admin(admin, superuser):
    add = admin.post(
        "/admin/providers/consumerapikey/add/",
        {"name": "web", "owner": superuser.pk, "allowed_services": "", "allowed_models": ""},
    )
    assert add.status_code == 200, add.content.decode()[:2000]  # the page showing the secret
    key = ConsumerAPIKey.objects.get(name="web")
    created = only_event("providers.consumerapikey", action="create")
    assert (created.source, created.actor, created.object_id) == (
        "admin",
        superuser.username,
        key.pk,
    )
    assert created.changes["hashed_key"] == {"secret": "set"}
    assert key.hashed_key not in event_text(created)
    change = admin.post(
        f"/admin/providers/consumerapikey/{key.pk}/change/",
        {"name": "web", "owner": superuser.pk, "allowed_services": "rag", "allowed_models": ""},
    )
    assert change.status_code == 302, change.content.decode()[:2000]
    narrowed = only_event("providers.consumerapikey", action="update")
    assert narrowed.changes == {"allowed_services": {"before": [], "after": ["rag"]}}
    assert narrowed.source == "admin"


def test_staff_token_creation_is_audited_without_the_token(staff_user):
    confirmed_second_factor(staff_user)
    out = StringIO()
    call_command("create_staff_token", "staff", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    event = only_event("knox.authtoken", action="create")
    row = AuthToken.objects.get()
    assert (event.source, event.actor) == ("command", "system")
    assert event.object_id == row.token_key and "digest" not in event.changes
    assert event.changes["user"] == {"after": staff_user.pk}
    assert token not in event_text(event) and row.digest not in event_text(event)


# -- users, groups, permissions -------------------------------------------------------------
def test_user_role_and_password_changes_in_admin(admin, superuser):
    user = member("dana", None)
    change = reverse("admin:auth_user_change", args=[user.pk])
    page = admin.get(change)
    assert page.status_code == 200
    data = {
        "username": "dana", "first_name": "", "last_name": "", "email": "",
        "is_active": "on", "is_staff": "on",
        "groups": [Group.objects.get(name="Operator").pk],
        "user_permissions": [], "last_login_0": "", "last_login_1": "",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    }  # fmt: skip
    assert admin.post(change, data).status_code == 302
    groups = only_event("auth.user", action="update", object_id=str(user.pk))
    assert groups.changes == {"groups": {"added": ["Operator"], "removed": []}}
    assert (groups.source, groups.actor) == ("admin", superuser.username)
    response = admin.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": "Another-Long-pw-77", "password2": "Another-Long-pw-77",
         "usable_password": "true"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    password = events("auth.user", action="update", object_id=str(user.pk))[-1]
    assert password.changes == {"password": {"secret": "changed"}}
    assert "Another-Long-pw-77" not in event_text(password)


def test_clearing_a_users_permissions_is_audited_with_what_was_removed():
    user = member("erin", None)
    granted = Permission.objects.get(codename="use_models")
    user.user_permissions.add(granted)
    user.user_permissions.clear()
    cleared = events("auth.user", action="update", object_id=str(user.pk))[-1]
    assert cleared.changes == {"user_permissions": {"added": [], "removed": [str(granted)]}}


def test_group_permissions_by_command_and_admin(admin):
    group = Group.objects.get(name="Viewer")
    extra = Permission.objects.get(codename="view_ratelimit")
    group.permissions.add(extra)
    added = only_event("auth.group", object_id=str(group.pk))
    assert added.changes == {"permissions": {"added": [str(extra)], "removed": []}}
    group.permissions.remove(Permission.objects.get(codename="view_budget"))
    call_command("setup_roles", stdout=StringIO())
    readded = events("auth.group", object_id=str(group.pk), source="command")[-1]
    assert readded.changes["permissions"]["added"] == [
        str(Permission.objects.get(codename="view_budget"))
    ]


# -- periodic tasks -------------------------------------------------------------------------
def test_periodic_tasks_created_by_command_and_disabled_in_admin(admin):
    call_command("setup_schedules", stdout=StringIO())
    created = events("django_celery_beat.periodictask", action="create", source="command")
    assert {e.object_repr.split(":")[0] for e in created} >= {"usage", "audit"}
    task = PeriodicTask.objects.get(name="audit: apply retention")
    # The scheduler's bookkeeping is not a configuration change.
    task.total_run_count += 1
    task.save(update_fields=["total_run_count"])
    assert not events("django_celery_beat.periodictask", action="update")
    response = admin.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "disable_tasks", "_selected_action": [task.pk]},
    )
    assert response.status_code == 302
    changed = only_event("django_celery_beat.periodictask", action="update")
    assert changed.changes == {"enabled": {"before": True, "after": False}}
    assert (changed.source, changed.actor) == ("admin", "admin")


def test_the_schedule_form_offers_the_projects_tasks(admin):
    """The library's form lists the tasks of Celery's current app: the project's (loaded by the
    page itself, config/audit/beat_admin.py), not Celery's empty fallback."""
    response = admin.get(reverse("admin:django_celery_beat_periodictask_add"))
    assert response.status_code == 200
    page = response.content.decode()
    for task in ("usage.rollup_today", "usage.reconcile_recent", "audit.retention_apply"):
        assert f'<option value="{task}">' in page


# -- contexts -------------------------------------------------------------------------------
def test_tasks_are_recorded_as_the_system():
    from config.audit import tracking

    tracking._on_task_prerun(task_id="t-1")
    try:
        ProviderConfig.objects.create(slug="fromtask", kind="openai", name="T")
    finally:
        tracking._on_task_postrun(task_id="t-1")
    event = only_event("providers.providerconfig")
    assert (event.source, event.actor, event.ip) == ("task", "system", None)
    ProviderConfig.objects.create(slug="aftertask", kind="openai", name="T")
    assert events("providers.providerconfig")[-1].source == "command"


def test_a_consumer_key_is_named_as_the_actor():
    from config.audit.context import actor_for_user

    class Identity:
        key_id = "abc123"
        name = "billing"

    class Principal:
        identity = Identity()

    actor = actor_for_user(Principal())
    assert (actor.actor_type, actor.actor_id, actor.actor) == (
        "consumer_key", "abc123", "consumer:billing",
    )  # fmt: skip


def test_selection_created_in_admin(admin, provider, superuser):
    model = ModelConfig.objects.create(
        provider=provider, name="gpt-a", enabled=True, capabilities=["chat"]
    )
    data = {
        "service": "rag_agent", "description": "", "primary": model.pk,
        "min_context_window": "", "temperature": "", "max_tokens": "", "top_p": "",
        "system_prompt": "", "fallbacks-TOTAL_FORMS": "0", "fallbacks-INITIAL_FORMS": "0",
        "fallbacks-MIN_NUM_FORMS": "0", "fallbacks-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = admin.post(reverse("admin:providers_modelselection_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = only_event("providers.modelselection", action="create")
    assert (event.source, event.actor, event.object_repr) == ("admin", "admin", "rag_agent")
    assert event.changes["primary"]["after"] == "openai:gpt-a"


def test_staff_token_revoked_in_admin(admin, staff_user):
    confirmed_second_factor(staff_user)
    call_command("create_staff_token", "staff", stdout=StringIO())
    row = AuthToken.objects.get()
    url = reverse("admin:knox_authtoken_delete", args=[row.pk])
    assert admin.post(url, {"post": "yes"}).status_code == 302
    event = only_event("knox.authtoken", action="delete")
    assert (event.source, event.object_id) == ("admin", row.token_key)
    assert row.digest not in event_text(event)


def test_superuser_created_by_command():
    call_command(
        "createsuperuser", "--noinput", "--username", "root", "--email", "r@example.com",
        stdout=StringIO(),
    )  # fmt: skip
    event = only_event("auth.user", action="create")
    assert (event.source, event.actor, event.object_repr) == ("command", "system", "root")
    assert event.changes["is_superuser"] == {"after": True}
    assert "password" not in event.changes or event.changes["password"] == {"secret": "set"}


def test_group_permissions_changed_in_admin(admin):
    group = Group.objects.get(name="Viewer")
    perms = list(group.permissions.values_list("pk", flat=True))
    extra = Permission.objects.get(codename="view_ratelimit")
    response = admin.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "Viewer", "permissions": [*perms, extra.pk]},
    )
    assert response.status_code == 302
    event = only_event("auth.group", action="update", source="admin")
    assert event.changes == {"permissions": {"added": [str(extra)], "removed": []}}


def test_a_write_with_a_staff_token_names_the_token_user(provider):
    from providers.services.staff_tokens import staff_token_create

    kim = member("kim", "Key manager")
    confirmed_second_factor(kim)
    _, token = staff_token_create(username="kim")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.patch("/api/providers/openai/", {"name": "Renamed"}, format="json")
    assert response.status_code == 200, response.content
    event = only_event("providers.providerconfig", action="update")
    assert (event.source, event.actor, event.actor_id) == ("api", "kim", str(kim.pk))
    assert event.changes == {"name": {"before": "OpenAI", "after": "Renamed"}}


def test_provider_created_and_rekeyed_by_command(monkeypatch):
    import io
    import sys

    def configure(*args: str, stdin: str = "") -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        call_command("configure_provider", *args, stdout=StringIO())

    configure("cmdprov", "--kind", "openai", "--name", "Cmd", "--api-key-stdin", stdin=NEW_KEY)
    created = only_event("providers.providerconfig", action="create")
    assert (created.source, created.actor, created.object_repr) == (
        "command", "system", "Cmd (cmdprov)",
    )  # fmt: skip
    assert created.changes["api_key"] == {"secret": "set"}
    configure("cmdprov", "--api-key-stdin", stdin=OLD_KEY)
    updated = only_event("providers.providerconfig", action="update")
    assert updated.changes["api_key"] == {"secret": "changed"}
    assert set(updated.changes) <= {"api_key", "credentials_binding"}
    for event in (created, updated):
        assert NEW_KEY not in event_text(event) and OLD_KEY not in event_text(event)
