"""`manage.py create_api_key NAME [--services a,b] [--models slug:m,...] [--owner U]
[--expires ISO]`.

Prints the prefix and the secret once; the database keeps only a SHA-512 hash of it.
"""

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from config.errors import InvalidInput
from providers.consumers import consumer_key_create


class Command(BaseCommand):
    help = "Create a consumer API key for a program and print its secret (shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name to tell the key apart, e.g. the program's.")
        parser.add_argument(
            "--services", default="", help="Comma-separated services it may use (default: all)."
        )
        parser.add_argument(
            "--models",
            default="",
            help="Comma-separated model strings it may call directly (default: all).",
        )
        parser.add_argument("--owner", default=None, help="Username of the key's owner.")
        parser.add_argument(
            "--expires", default=None, help="ISO date or date-time when the key stops working."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        owner = None
        if options["owner"]:
            owner = get_user_model().objects.filter(username=options["owner"]).first()
            if owner is None:
                raise CommandError(f"No user named {options['owner']!r}.")
        try:
            api_key, secret = consumer_key_create(
                name=options["name"],
                owner=owner,
                allowed_services=_split(options["services"]),
                allowed_models=_split(options["models"]),
                expiry_date=_expiry(options["expires"]),
            )
        except InvalidInput as exc:
            fields = exc.details.get("fields", {}) if isinstance(exc.details, dict) else {}
            lines = [f"{field}: {m}" for field, messages in fields.items() for m in messages]
            raise CommandError("\n".join(lines) or exc.message) from None
        self.stdout.write(f"Created consumer API key {api_key.name!r} (prefix {api_key.prefix}).")
        self.stdout.write("Store this key now; it cannot be shown again:")
        self.stdout.write(secret)


def _split(value: str) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"--expires {value!r} is not an ISO date or date-time.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment
