"""manage.py rotate_encryption_keys: re-encrypt every secret under the newest key."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from providers.fields import EncryptionKeyError
from providers.services.encryption import encryption_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value under the first (newest) key of FIELD_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then remove the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            results = encryption_keys_rotate()
        except EncryptionKeyError as exc:
            raise CommandError(exc.message) from None
        for result in results:
            self.stdout.write(f"{result.model}.{result.field}: {result.rows} value(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS("All encrypted values now use the newest key."))
