"""Consumer API keys: creation, the cached hot-path lookup, invalidation, command and admin."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from config.errors import InvalidInput
from providers import consumers
from providers.consumers import (
    ConsumerIdentity,
    consumer_identity_from_key,
    consumer_key_create,
    consumer_key_revoke,
)
from providers.models import ConsumerAPIKey

pytestmark = pytest.mark.django_db(transaction=True)


def test_created_key_is_stored_only_as_a_hash():
    api_key, secret = consumer_key_create(name="billing", allowed_services=["rag_agent"])
    assert secret.startswith(api_key.prefix + ".")
    row = ConsumerAPIKey.objects.get(pk=api_key.pk)
    assert secret not in row.hashed_key and secret not in row.pk
    assert row.hashed_key.startswith("sha512$$")


def test_identity_from_key_carries_scope_and_may_use():
    api_key, secret = consumer_key_create(
        name="rag", allowed_services=["rag_agent"], allowed_models=["openai:gpt-4.1"]
    )
    identity = consumer_identity_from_key(secret)
    assert identity == ConsumerIdentity(
        key_id=api_key.pk,
        name="rag",
        prefix=api_key.prefix,
        owner_id=None,
        allowed_services=("rag_agent",),
        allowed_models=("openai:gpt-4.1",),
    )
    assert identity.may_use("rag_agent") and not identity.may_use("document_agent")
    assert identity.may_use("openai:gpt-4.1") and not identity.may_use("openai:gpt-4o")
    assert secret not in repr(identity) and api_key.hashed_key not in repr(identity)


def test_empty_allow_lists_mean_everything():
    _, secret = consumer_key_create(name="all")
    identity = consumer_identity_from_key(secret)
    assert identity.may_use("anything") and identity.may_use("anthropic:claude-opus-4")


def test_a_key_restricted_to_services_cannot_reach_raw_model_strings():
    _, secret = consumer_key_create(name="services-only", allowed_services=["rag_agent"])
    identity = consumer_identity_from_key(secret)
    assert identity.may_use("rag_agent")
    assert not identity.may_use("openai:gpt-4.1")


def test_a_key_restricted_to_models_cannot_use_services():
    _, secret = consumer_key_create(name="models-only", allowed_models=["openai:gpt-4.1"])
    identity = consumer_identity_from_key(secret)
    assert identity.may_use("openai:gpt-4.1")
    assert not identity.may_use("rag_agent")


def test_second_lookup_reads_no_database(django_assert_num_queries):
    _, secret = consumer_key_create(name="hot")
    with django_assert_num_queries(2):  # the key row, then last_used_at
        assert consumer_identity_from_key(secret) is not None
    with django_assert_num_queries(0):
        for _ in range(5):
            assert consumer_identity_from_key(secret) is not None


def test_cache_holds_a_digest_never_the_key():
    _, secret = consumer_key_create(name="digest")
    consumer_identity_from_key(secret)
    entry_key = f"consumers:key:{consumers._generation()}:{consumers._key_digest(secret)}"
    assert cache.get(entry_key) is not None
    assert secret not in entry_key and secret.split(".")[1] not in entry_key


def test_last_used_is_written_at_most_once_a_minute():
    api_key, secret = consumer_key_create(name="usage")
    consumer_identity_from_key(secret)
    first = ConsumerAPIKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    consumer_identity_from_key(secret)
    assert ConsumerAPIKey.objects.get(pk=api_key.pk).last_used_at == first
    # The minute has passed: for this process and for the shared cache.
    consumers._recent_touches.pop(api_key.pk)
    cache.delete(f"consumers:used:{api_key.pk}")
    consumer_identity_from_key(secret)
    assert ConsumerAPIKey.objects.get(pk=api_key.pk).last_used_at > first


def test_revoking_invalidates_the_cached_lookup():
    api_key, secret = consumer_key_create(name="soon-revoked")
    assert consumer_identity_from_key(secret) is not None
    consumer_key_revoke(api_key=api_key)
    assert consumer_identity_from_key(secret) is None


def test_scope_change_and_delete_apply_at_once():
    api_key, secret = consumer_key_create(name="scoped")
    assert consumer_identity_from_key(secret).allowed_services == ()
    api_key.allowed_services = ["rag_agent"]
    api_key.save()
    assert consumer_identity_from_key(secret).allowed_services == ("rag_agent",)
    api_key.delete()
    assert consumer_identity_from_key(secret) is None


def test_expired_key_is_refused_even_when_cached():
    api_key, secret = consumer_key_create(
        name="short", expiry_date=timezone.now() + timedelta(hours=1)
    )
    assert consumer_identity_from_key(secret) is not None
    # Expire it behind the cache's back: the cached expiry still refuses it.
    ConsumerAPIKey.objects.filter(pk=api_key.pk).update(
        expiry_date=timezone.now() - timedelta(seconds=1)
    )
    entry_key = f"consumers:key:{consumers._generation()}:{consumers._key_digest(secret)}"
    identity, _ = cache.get(entry_key)
    cache.set(entry_key, (identity, timezone.now() - timedelta(seconds=1)))
    consumers.consumer_identity_local_clear()  # another process: only the shared entry
    assert consumer_identity_from_key(secret) is None


def test_lookup_in_the_steady_state_reads_no_entry_and_no_database(
    django_assert_num_queries,
):
    api_key, secret = consumer_key_create(name="hot")
    assert consumer_identity_from_key(secret) is not None
    # This thread's copy answers without the shared entry and without the database...
    cache.delete(f"consumers:key:{consumers._generation()}:{consumers._key_digest(secret)}")
    with django_assert_num_queries(0):
        assert consumer_identity_from_key(secret).key_id == str(api_key.pk)
    # ...and is dropped with the generation, so a revocation holds here at once.
    api_key.revoked = True
    api_key.save()
    assert consumer_identity_from_key(secret) is None


def test_expired_key_is_refused_from_the_database():
    api_key, secret = consumer_key_create(name="old")
    ConsumerAPIKey.objects.filter(pk=api_key.pk).update(
        expiry_date=timezone.now() - timedelta(days=1)
    )
    assert consumer_identity_from_key(secret) is None


@pytest.mark.parametrize(
    "presented",
    ["", "nodot", "abc.def", "x" * 500, "{prefix}.wrong-secret"],
)
def test_unknown_or_malformed_keys_are_refused(presented):
    api_key, _ = consumer_key_create(name="real")
    assert consumer_identity_from_key(presented.format(prefix=api_key.prefix)) is None


def test_create_refuses_bad_scope_with_field_errors():
    with pytest.raises(InvalidInput) as info:
        consumer_key_create(
            name="", allowed_services=["Rag Agent"], allowed_models=["gpt-4.1", "openai:"]
        )
    fields = info.value.details["fields"]
    assert set(fields) == {"name", "allowed_services", "allowed_models"}
    assert len(fields["allowed_models"]) == 2


def test_command_prints_the_secret_once(django_user_model):
    django_user_model.objects.create_user(username="ops")
    out = StringIO()
    call_command(
        "create_api_key",
        "etl",
        "--services",
        "rag_agent,embeddings",
        "--models",
        "openai:gpt-4.1",
        "--owner",
        "ops",
        "--expires",
        "2099-01-31",
        stdout=out,
    )
    text = out.getvalue()
    api_key = ConsumerAPIKey.objects.get(name="etl")
    secrets_printed = re.findall(rf"{api_key.prefix}\.\S+", text)
    assert len(secrets_printed) == 1
    identity = consumer_identity_from_key(secrets_printed[0])
    assert identity.allowed_services == ("rag_agent", "embeddings")
    assert identity.allowed_models == ("openai:gpt-4.1",)
    assert identity.owner_id == api_key.owner_id is not None
    assert api_key.expiry_date.year == 2099
    assert api_key.hashed_key not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--owner", "nobody"], "No user named"),
        (["--expires", "next tuesday"], "not an ISO date"),
        (["--models", "gpt-4.1"], "allowed_models"),
        (["--expires", "2001-01-01"], "expiry_date"),
    ],
)
def test_command_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_key", "bad", *args, stdout=StringIO())
    assert not ConsumerAPIKey.objects.exists()


def test_admin_shows_the_secret_once_and_never_the_hash(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/providers/consumerapikey/add/",
        {
            "name": "from-admin",
            "allowed_services": "rag_agent, embeddings",
            "allowed_models": "",
        },
    )
    assert response.status_code == 200
    api_key = ConsumerAPIKey.objects.get(name="from-admin")
    assert api_key.allowed_services == ["rag_agent", "embeddings"]
    shown = [response.content.decode()]
    secrets_shown = sorted(set(re.findall(rf"{api_key.prefix}\.\w+", shown[0])))
    assert len(secrets_shown) == 1
    assert consumer_identity_from_key(secrets_shown[0]) is not None

    listing = client.get("/admin/providers/consumerapikey/").content.decode()
    change = client.get(f"/admin/providers/consumerapikey/{api_key.pk}/change/").content.decode()
    for page in (listing, change):
        assert api_key.prefix in page
        assert secrets_shown[0] not in page
    assert api_key.pk == api_key.prefix
    for page in (listing, change, *shown):
        assert api_key.hashed_key.split("$$")[1] not in page
    assert "rag_agent, embeddings" in change


def test_admin_refuses_bad_model_strings(client, superuser):
    client.force_login(superuser)
    response = client.post(
        "/admin/providers/consumerapikey/add/",
        {"name": "bad", "allowed_services": "", "allowed_models": "gpt-4.1"},
    )
    assert response.status_code == 200
    assert "is not a model string" in response.content.decode()
    assert not ConsumerAPIKey.objects.exists()


def test_admin_revoke_action(client, superuser):
    client.force_login(superuser)
    api_key, secret = consumer_key_create(name="to-revoke")
    assert consumer_identity_from_key(secret) is not None
    client.post(
        "/admin/providers/consumerapikey/",
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
    )
    assert ConsumerAPIKey.objects.get(pk=api_key.pk).revoked
    assert consumer_identity_from_key(secret) is None


def test_an_evicted_generation_never_resurrects_stale_entries():
    api_key, secret = consumer_key_create(name="evicted")
    cache.delete(consumers.keys_generation.key)  # the cache dropped the generation number
    assert consumer_identity_from_key(secret) is not None  # cached under a fresh one
    consumer_key_revoke(api_key=api_key)
    cache.delete(consumers.keys_generation.key)  # and dropped it again
    assert consumer_identity_from_key(secret) is None
