"""`manage.py create_staff_token USERNAME [--ttl-days N]`.

Prints a staff API token once (`Authorization: Token <token>` on /api/); the database keeps
only a SHA-512 digest of it. Revoke a token by deleting it in admin (*Knox → Auth tokens*).
"""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from providers.services.staff_tokens import STAFF_TOKEN_MAX_TTL, staff_token_create


class Command(BaseCommand):
    help = "Create an API token for a staff user and print it (shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The staff user the token authenticates as.")
        parser.add_argument(
            "--ttl-days",
            type=int,
            default=None,
            help="Days until the token expires (1 to "
            f"{STAFF_TOKEN_MAX_TTL.days}; default: REST_KNOX TOKEN_TTL, STAFF_TOKEN_TTL_DAYS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["ttl_days"]
        if days is not None and not 1 <= days <= STAFF_TOKEN_MAX_TTL.days:
            raise CommandError(f"--ttl-days must be between 1 and {STAFF_TOKEN_MAX_TTL.days}.")
        try:
            instance, token = staff_token_create(
                username=options["username"],
                ttl=timedelta(days=days) if days is not None else None,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        expiry = f"{instance.expiry:%Y-%m-%d %H:%M} UTC" if instance.expiry else "never"
        self.stdout.write(
            f"Created a staff API token for {options['username']!r} (expires {expiry})."
        )
        self.stdout.write("Store this token now; it cannot be shown again:")
        self.stdout.write(token)
