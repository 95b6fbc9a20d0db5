"""`manage.py sync_models [--provider SLUG]`: compare the catalog with providers' live lists."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from providers.models import ProviderConfig
from providers.services.catalog import models_sync


class Command(BaseCommand):
    help = (
        "Ask each active provider (or the one given) for its model list: new models are added "
        "disabled, models no longer listed are flagged unavailable. A failing provider is "
        "reported and the others still sync."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--provider", metavar="SLUG", help="Sync only this provider")

    def handle(self, *args: Any, **options: Any) -> None:
        provider = None
        if slug := options.get("provider"):
            provider = ProviderConfig.objects.filter(slug=slug).first()
            if provider is None:
                known = ", ".join(ProviderConfig.objects.values_list("slug", flat=True)) or "none"
                raise CommandError(f"Unknown provider {slug!r}; registered providers: {known}.")
        summary = models_sync(provider=provider)
        if not summary.results:
            self.stdout.write("No active provider to sync.")
        for result in summary.results:
            if result.error:
                self.stderr.write(f"{result.provider}: failed: {result.error}")
                continue
            self.stdout.write(
                f"{result.provider}: {len(result.added)} added (disabled), "
                f"{len(result.flagged)} flagged unavailable, {len(result.restored)} available "
                f"again, {result.unchanged} unchanged"
            )
            for name in result.added:
                self.stdout.write(f"  added: {name}")
            for name in result.flagged:
                self.stdout.write(f"  unavailable: {name}")
            for name in result.restored:
                self.stdout.write(f"  available again: {name}")
