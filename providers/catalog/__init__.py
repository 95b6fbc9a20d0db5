"""The dated model catalog shipped with the code: reading and checking it.

`model_catalog.json` lists, per provider PRESET (providers/presets.py: `openai`, `mistral`,
`groq`...), the models a provider of that preset starts with, their limits, capabilities and
prices, each price with the page it came from and the date it was checked. Keyed by preset, not
by kind, so that Mistral's models never land on an Ollama server, although both speak the
OpenAI-compatible wire. `providers.services.catalog.model_catalog_load` writes it into the
database.
"""

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from providers.models.catalog import Capability, ModelKind, ModelPrice
from providers.presets import PRESETS_BY_SLUG

CATALOG_PATH = Path(__file__).with_name("model_catalog.json")


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the entry and the field."""


@dataclass(frozen=True, slots=True)
class CatalogPrice:
    input: Decimal | None
    output: Decimal | None
    cached_input: Decimal | None
    cache_write: Decimal | None
    as_of: str
    source: str

    def amounts(self) -> tuple[Decimal | None, ...]:
        return tuple(getattr(self, f) for f in ModelPrice.PRICE_FIELDS)


@dataclass(frozen=True, slots=True)
class CatalogModel:
    preset: str
    name: str
    display_name: str
    kind: str
    enabled: bool
    context_window: int | None
    max_output_tokens: int | None
    capabilities: tuple[str, ...]
    price: CatalogPrice | None


@dataclass(frozen=True, slots=True)
class Catalog:
    as_of: str
    models: tuple[CatalogModel, ...]

    def for_preset(self, preset: str) -> list[CatalogModel]:
        return [m for m in self.models if m.preset == preset]

    @property
    def presets(self) -> list[str]:
        return sorted({m.preset for m in self.models})


def catalog_read(path: Path | None = None) -> Catalog:
    """Parse and check the catalog file; raises CatalogError naming the bad entry."""
    path = path or CATALOG_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(f"Cannot read the model catalog {path}: {exc}") from exc
    return catalog_parse(data)


def catalog_parse(data: dict[str, Any]) -> Catalog:
    """A catalog from its JSON. Blocks are keyed by preset; an older file keyed by "kinds"
    still reads, since each official kind is the preset of the same name."""
    models = []
    blocks = data.get("presets", data.get("kinds")) or {}
    for preset, block in blocks.items():
        if preset not in PRESETS_BY_SLUG:
            raise CatalogError(
                f"Unknown preset {preset!r}; the catalog is keyed by preset: "
                f"{', '.join(PRESETS_BY_SLUG)}."
            )
        for index, entry in enumerate(block.get("models") or []):
            where = f"{preset} model #{index + 1} ({entry.get('name', '?')})"
            models.append(_model(preset, entry, where))
    return Catalog(as_of=str(data.get("as_of", "")), models=tuple(models))


def _model(preset: str, entry: dict[str, Any], where: str) -> CatalogModel:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise CatalogError(f"{where}: a model needs a name.")
    kind = entry.get("kind", ModelKind.CHAT)
    if kind not in ModelKind.values:
        raise CatalogError(f"{where}: unknown kind {kind!r}.")
    capabilities = entry.get("capabilities") or []
    unknown = set(capabilities) - set(Capability.values)
    if unknown:
        raise CatalogError(f"{where}: unknown capabilities {sorted(unknown)}.")
    return CatalogModel(
        preset=preset,
        name=name,
        display_name=str(entry.get("display_name") or name),
        kind=kind,
        enabled=bool(entry.get("enabled", False)),
        context_window=_tokens(entry.get("context_window"), where, "context_window"),
        max_output_tokens=_tokens(entry.get("max_output_tokens"), where, "max_output_tokens"),
        capabilities=tuple(capabilities),
        price=_price(entry.get("price"), where),
    )


def _tokens(value: Any, where: str, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CatalogError(f"{where}: {field} must be a positive whole number.")
    return value


def _price(value: Any, where: str) -> CatalogPrice | None:
    if value is None:
        return None
    amounts: dict[str, Decimal | None] = {}
    for field in ModelPrice.PRICE_FIELDS:
        raw = value.get(field)
        if raw is None:
            amounts[field] = None
            continue
        if not isinstance(raw, str):  # strings keep prices exact: no float ever
            raise CatalogError(f'{where}: price {field} must be a decimal string like "0.40".')
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise CatalogError(f"{where}: price {field} {raw!r} is not a number.") from None
        if amount < 0 or not amount.is_finite():
            raise CatalogError(f"{where}: price {field} must not be negative.")
        amounts[field] = amount
    if not value.get("as_of") or not value.get("source"):
        raise CatalogError(f"{where}: a price needs the date (as_of) and page (source) it is from.")
    return CatalogPrice(**amounts, as_of=str(value["as_of"]), source=str(value["source"]))
