"""Secrets are encrypted at rest, rotate under a new key, and fail loudly under a wrong one."""

import io
import re

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from providers.fields import EncryptionKeyError
from providers.models import ProviderConfig

SECRET = "sk-live-plaintext-secret-1234567890abcd"


def raw_column(provider: ProviderConfig, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM providers_providerconfig WHERE id = %s", [provider.pk]
        )
        return cursor.fetchone()[0]


def make_provider(**overrides) -> ProviderConfig:
    values = {"slug": "openai", "kind": "openai", "name": "OpenAI", "api_key": SECRET}
    values.update(overrides)
    return ProviderConfig.objects.create(**values)


@pytest.mark.django_db
def test_raw_column_holds_no_plaintext_key():
    provider = make_provider(extra_headers='{"X-Secret-Header": "header-secret-value"}')
    stored_key = raw_column(provider, "api_key")
    stored_headers = raw_column(provider, "extra_headers")
    assert SECRET not in stored_key
    assert SECRET[-4:] not in stored_key
    assert "header-secret-value" not in stored_headers
    assert stored_key.startswith("gAAAA")  # a Fernet token
    assert ProviderConfig.objects.get(pk=provider.pk).api_key == SECRET


@pytest.mark.django_db
def test_empty_key_is_stored_as_empty():
    provider = make_provider(api_key="")
    assert raw_column(provider, "api_key") == ""
    assert ProviderConfig.objects.get(pk=provider.pk).api_key_set is False


@pytest.mark.django_db
def test_rotation_then_old_key_removed_still_reads_every_row(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    providers = [make_provider(slug=f"p{i}", api_key=f"{SECRET}-{i}") for i in range(3)]
    before = {p.pk: raw_column(p, "api_key") for p in providers}
    new_key = Fernet.generate_key().decode()

    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]):
        call_command("rotate_encryption_keys", stdout=io.StringIO())

    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        for i, provider in enumerate(providers):
            assert raw_column(provider, "api_key") != before[provider.pk]
            assert ProviderConfig.objects.get(pk=provider.pk).api_key == f"{SECRET}-{i}"


@pytest.mark.django_db
def test_wrong_key_fails_with_a_clear_error_naming_the_field():
    provider = make_provider()
    wrong_key = [Fernet.generate_key().decode()]
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=wrong_key),
        pytest.raises(EncryptionKeyError) as excinfo,
    ):
        ProviderConfig.objects.get(pk=provider.pk)
    message = str(excinfo.value)
    assert "providers.ProviderConfig.api_key" in message
    assert "FIELD_ENCRYPTION_KEYS" in message
    assert SECRET not in message
    assert "gAAAA" not in message  # never the ciphertext either


@pytest.mark.django_db
def test_rotation_refuses_when_a_value_cannot_be_decrypted():
    make_provider()
    wrong_key = [Fernet.generate_key().decode()]
    expected = re.escape("Cannot rotate providers.ProviderConfig.api_key")
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=wrong_key),
        pytest.raises(Exception, match=expected),
    ):
        call_command("rotate_encryption_keys")


@pytest.mark.django_db
def test_missing_or_malformed_keys_are_configuration_errors():
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[]),
        pytest.raises(EncryptionKeyError, match="empty"),
    ):
        make_provider()
    bad = ["not-a-fernet-key"]
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=bad),
        pytest.raises(EncryptionKeyError, match="Fernet"),
    ):
        make_provider(slug="other")


def test_settings_repr_never_shows_the_key():
    provider = ProviderConfig(slug="x", kind="openai", name="X", api_key=SECRET)
    assert SECRET not in repr(provider.to_settings())
    assert provider.api_key_hint == "set, ends in …abcd"
