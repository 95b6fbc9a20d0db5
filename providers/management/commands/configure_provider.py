"""`manage.py configure_provider SLUG [--preset P] [--kind K] [--name N] [--base-url URL]
[--api-key-stdin | --clear-api-key] [--organization O] [--project P] [--timeout S]
[--max-retries N] [--active | --inactive]`.

Creates the provider, or changes the given settings of an existing one, through the same
services as admin and the API, so the same rules hold: a new base URL or kind needs the key
again (`--api-key-stdin`), and the kind cannot change while models or selections depend on
the provider. The key is read from standard input, never from the command line, where other
users of the machine and the shell history would see it.
"""

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.models import ProviderConfig
from providers.presets import PRESETS_BY_SLUG
from providers.services.provider import provider_create, provider_update

OPTIONS = {
    "preset": "preset",
    "kind": "kind",
    "name": "name",
    "base_url": "base_url",
    "organization": "organization",
    "project": "project",
    "timeout": "timeout_seconds",
    "max_retries": "max_retries",
}


class Command(BaseCommand):
    help = "Create or change a provider (the key is read from standard input)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The provider's slug, e.g. openai-eu.")
        parser.add_argument(
            "--preset",
            choices=list(PRESETS_BY_SLUG),
            help="A known service (mistral, groq, ollama...): fills the kind and, when not "
            "given, the base URL, and brings its catalog models.",
        )
        parser.add_argument("--kind", help="openai, anthropic, gemini or openai_compatible.")
        parser.add_argument("--name", help="Display name (default: the slug).")
        parser.add_argument("--base-url", dest="base_url", help='Base URL ("" for the default).')
        parser.add_argument("--organization")
        parser.add_argument("--project")
        parser.add_argument("--timeout", type=float, help="Seconds per provider call.")
        parser.add_argument("--max-retries", dest="max_retries", type=int)
        key = parser.add_mutually_exclusive_group()
        key.add_argument(
            "--api-key-stdin",
            action="store_true",
            help="Read the API key from the first line of standard input.",
        )
        key.add_argument("--clear-api-key", action="store_true", help="Remove the stored key.")
        active = parser.add_mutually_exclusive_group()
        active.add_argument("--active", dest="is_active", action="store_true", default=None)
        active.add_argument("--inactive", dest="is_active", action="store_false")

    def handle(self, *args: Any, **options: Any) -> None:
        data: dict[str, Any] = {
            field: options[option]
            for option, field in OPTIONS.items()
            if options[option] is not None
        }
        if options["is_active"] is not None:
            data["is_active"] = options["is_active"]
        if options["api_key_stdin"]:
            key = sys.stdin.readline().strip()
            if not key:
                raise CommandError("--api-key-stdin: standard input holds no key.")
            data["api_key"] = key
        elif options["clear_api_key"]:
            data["api_key"] = ""
        slug = options["slug"]
        provider = ProviderConfig.objects.filter(slug=slug).first()
        try:
            if provider is None:
                data.setdefault("name", slug)
                if "kind" not in data and "preset" not in data:
                    raise CommandError("A new provider needs --kind or --preset.")
                provider, summary = provider_create(data={"slug": slug, **data}, user=None)
                self.stdout.write(
                    f"Created {provider.slug} ({provider.kind}"
                    f"{', preset ' + provider.preset if provider.preset else ''}), "
                    f"key {provider.api_key_hint}; "
                    f"{len(summary.created)} catalog models added."
                )
                return
            provider = provider_update(provider=provider, data=data, user=None)
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from None
        self.stdout.write(f"Updated {provider.slug}, key {provider.api_key_hint}.")


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(
            f"{field}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        )
    return " ".join(exc.messages)
