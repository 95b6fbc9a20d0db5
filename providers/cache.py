"""The catalog's generation: providers, models, prices, groups and selections.

Saving any of them bumps it (providers.signals), so every cached resolution built before is
never read again (config.generation_cache states the rule).
"""

from config.generation_cache import CacheGeneration

catalog = CacheGeneration("providers:catalog-generation")


def catalog_generation() -> int:
    """The generation of providers, models, prices and selections."""
    return catalog.current()


def catalog_generation_bump() -> int:
    return catalog.bump()
