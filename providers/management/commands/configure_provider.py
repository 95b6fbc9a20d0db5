"""`manage.py configure_provider SLUG [--preset P] [--kind K] [--name N] [--base-url URL]
[--api-key-stdin | --clear-api-key] [--organization O] [--project P] [--timeout S]
[--max-retries N] [--active | --inactive] [--credential NAME=VALUE ...] [--credentials-stdin]`.

Creates the provider, or changes the given settings of an existing one, through the same
services as admin and the API, so the same rules hold: a new base URL or kind needs the key
again (`--api-key-stdin`), and the kind cannot change while models or selections depend on
the provider. The key is read from standard input, never from the command line, where other
users of the machine and the shell history would see it.

The kind's own fields (providers.credentials): plain ones on the command line with
`--credential region=eu-west-3`; secret ones only from standard input, as a JSON object of
field names to values (`--credentials-stdin`, e.g. a service account key or AWS keys). Fields
not given keep their stored value, as in the API.
"""

import json
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.credentials import credential_spec
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
        parser.add_argument(
            "--credential",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A plain field of the kind (api_version, region, project_id, location...).",
        )
        parser.add_argument(
            "--credentials-stdin",
            action="store_true",
            help="Read a JSON object of the kind's fields (secrets too) from standard input.",
        )
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
        kind = data.get("kind") or (provider.kind if provider else "")
        credentials = _credentials(kind, options)
        if credentials:
            data["credentials"] = credentials
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


def _credentials(kind: str, options: dict[str, Any]) -> dict[str, str]:
    """The kind's fields given: plain ones from --credential, any from --credentials-stdin."""
    spec = credential_spec(kind)
    values: dict[str, str] = {}
    for item in options["credential"]:
        name, sep, value = item.partition("=")
        field = spec.field(name)
        if not sep or field is None:
            names = ", ".join(f.name for f in spec.fields if not f.secret) or "none"
            raise CommandError(f"--credential {name}: not a plain field of {kind} ({names}).")
        if field.secret:
            raise CommandError(
                f"--credential {name}: a secret is read from standard input only "
                "(--credentials-stdin), never from the command line."
            )
        values[name] = value
    if options["credentials_stdin"]:
        try:
            typed = json.loads(sys.stdin.read())
        except json.JSONDecodeError:
            raise CommandError("--credentials-stdin: standard input is not JSON.") from None
        if not isinstance(typed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in typed.items()
        ):
            raise CommandError("--credentials-stdin: expected a JSON object of strings.")
        unknown = sorted(set(typed) - {f.name for f in spec.fields})
        if unknown:
            raise CommandError(
                f"--credentials-stdin: {unknown[0][:60]!r} is not a field of {kind}."
            )
        values.update(typed)
    return values


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(
            f"{field}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        )
    return " ".join(exc.messages)
