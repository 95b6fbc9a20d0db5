"""EncryptedTextField: a text column stored as a Fernet token, readable under any configured key.

Keys come from settings.FIELD_ENCRYPTION_KEYS (newest first). The newest key encrypts; every
key decrypts, so keys can be rotated (`manage.py rotate_encryption_keys`). A value that no key
can decrypt raises EncryptionKeyError naming the field: ciphertext is never passed off as the
value. The empty string means "not set" and is stored as-is.

Serializers (`dumpdata`, fixtures) see the ciphertext, never the secret: a dump or a backup file
is as protected as the column, and `loaddata` turns the token back into the value (so it must
be loaded where a key that decrypts it is configured; otherwise it fails, naming the field).
"""

import base64
import binascii
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

from config.errors import ConfigurationError


class EncryptionKeyError(ConfigurationError):
    code = "encryption_key_error"


@lru_cache(maxsize=1)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise EncryptionKeyError(
            "FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key to store secrets."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise EncryptionKeyError(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from exc


def field_fernet() -> MultiFernet:
    """The MultiFernet built from the current settings (cached until they change)."""
    return _fernet_for(tuple(k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()))


@receiver(setting_changed)
def _reset_fernet(*, setting: str, **kwargs: Any) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet_for.cache_clear()


def encrypt_value(plaintext: str) -> str:
    return field_fernet().encrypt(plaintext.encode()).decode()


def decrypt_value(token: str, *, label: str) -> str:
    try:
        return field_fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise EncryptionKeyError(
            f"Cannot decrypt {label}: none of the keys in FIELD_ENCRYPTION_KEYS matches. "
            "Restore the key it was written with, or enter the secret again."
        ) from None


def rotate_value(token: str, *, label: str) -> str:
    """Re-encrypt a stored token under the newest key."""
    try:
        return field_fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise EncryptionKeyError(
            f"Cannot rotate {label}: none of the keys in FIELD_ENCRYPTION_KEYS matches."
        ) from None


def is_fernet_token(value: str) -> bool:
    """Whether `value` has the shape of a Fernet token (version byte 0x80, 57 bytes of header,
    IV and HMAC around whole AES blocks): what value_to_string writes. No API key has it."""
    if not value.startswith("gAAAAA"):
        return False
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    return len(raw) >= 73 and (len(raw) - 57) % 16 == 0


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with Fernet"

    def _label(self) -> str:
        model = getattr(self, "model", None)
        return f"{model._meta.label}.{self.name}" if model else self.name or "encrypted field"

    def value_to_string(self, obj: models.Model) -> str:
        """What serializers write: a fresh token for the value, never the value itself."""
        value = self.value_from_object(obj)  # typed by the stubs' unbound TextField generic
        return encrypt_value(str(value)) if value else ""

    def to_python(self, value: Any) -> Any:
        """A token (from a serialized dump) becomes its value again; anything else is a value.
        A token that no configured key decrypts is an error: it is never taken for the secret."""
        value = super().to_python(value)
        if isinstance(value, str) and is_fernet_token(value):
            try:
                return field_fernet().decrypt(value.encode()).decode()
            except InvalidToken:
                raise ValidationError(
                    f"{self._label()} holds an encrypted value that none of the keys in "
                    "FIELD_ENCRYPTION_KEYS decrypts.",
                    code="undecryptable",
                ) from None
        return value

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return decrypt_value(value, label=self._label())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt_value(value)

    def rotate_stored_value(self, stored: str | None) -> str | None:
        return rotate_value(stored, label=self._label()) if stored else stored


def encrypted_fields(model: type[models.Model]) -> list[EncryptedTextField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
