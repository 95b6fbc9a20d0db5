"""`manage.py load_model_catalog`: write the shipped, dated model catalog into the database."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from providers.catalog import CatalogError, catalog_read
from providers.services.catalog import model_catalog_load


class Command(BaseCommand):
    help = (
        "Create or update models and prices from the dated catalog for every registered "
        "provider of each preset (openai, mistral, groq...; a provider without a preset gets "
        "none). Never overwrites what staff edited; safe to run again."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--file", type=Path, help="Another catalog file (JSON)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            catalog = catalog_read(options.get("file"))
        except CatalogError as exc:
            raise CommandError(str(exc)) from exc
        summary = model_catalog_load(catalog=catalog)
        out = self.stdout
        out.write(f"Model catalog of {summary.as_of}:")
        out.write(
            f"  {len(summary.created)} created, {len(summary.updated)} updated, "
            f"{len(summary.unchanged)} unchanged, {len(summary.prices_added)} prices added"
        )
        for label, items in (
            ("created", summary.created),
            ("updated", summary.updated),
            ("new price", summary.prices_added),
            ("kept staff value", summary.kept_staff),
        ):
            for item in items:
                out.write(f"  {label}: {item}")
        for preset in summary.presets_without_provider:
            out.write(f"  skipped {preset}: no provider with this preset is registered yet")
