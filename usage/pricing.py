"""Tokens -> money: the cost of a call from its usage buckets and the prices in force.

Usage buckets do not overlap (see providers.adapters.types), so cost is a plain sum of
bucket x price-per-million. Reasoning tokens are billed at the output price, once. A bucket
that holds tokens but has no price makes the whole cost unknown (None, `is_priced` False):
a silent 0 is how gateways under-report spend. The prices used are kept with the cost as a
snapshot, so a later price change never alters a recorded call and the call can be re-priced.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from providers.adapters.types import Usage
from providers.resolution import ModelPrices

PER_MILLION = Decimal(1_000_000)
# UsageRecord.cost has 10 decimal places.
COST_QUANTUM = Decimal("0.0000000001")
# A documented heuristic, not a tokenizer: about four characters per token for English text
# (OpenAI's rule of thumb). Used only for admission estimates and context-window fitting;
# recorded cost always comes from the usage the provider reports.
CHARS_PER_TOKEN = 4

# Usage bucket -> the ModelPrices field that prices it.
_BUCKET_PRICES: tuple[tuple[str, str], ...] = (
    ("input_tokens", "input"),
    ("cached_input_tokens", "cached_input"),
    ("cache_write_tokens", "cache_write"),
    ("output_tokens", "output"),
    ("reasoning_tokens", "output"),
)


@dataclass(frozen=True, slots=True)
class PricedUsage:
    cost: Decimal | None
    is_priced: bool
    price_snapshot: dict[str, Any]
    missing_prices: tuple[str, ...] = ()


def price_snapshot(prices: ModelPrices) -> dict[str, Any]:
    """A JSON-safe copy of the prices (strings for Decimals), stored on the usage record."""

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "price_id": prices.price_id,
        "unit": "USD per 1M tokens",
        "input": text(prices.input),
        "output": text(prices.output),
        "cached_input": text(prices.cached_input),
        "cache_write": text(prices.cache_write),
        "effective_from": prices.effective_from,
        "source": prices.source,
    }


def usage_cost(*, usage: Usage, prices: ModelPrices) -> PricedUsage:
    """The cost of `usage` at `prices`; None with is_priced False if a needed price is missing."""
    total = Decimal(0)
    missing: list[str] = []
    for bucket, price_field in _BUCKET_PRICES:
        tokens = getattr(usage, bucket)
        if not tokens:
            continue
        price: Decimal | None = getattr(prices, price_field)
        if price is None:
            missing.append(price_field)
            continue
        total += Decimal(tokens) * price
    snapshot = price_snapshot(prices)
    if missing:
        return PricedUsage(None, False, snapshot, tuple(dict.fromkeys(missing)))
    return PricedUsage(
        (total / PER_MILLION).quantize(COST_QUANTUM, rounding=ROUND_HALF_UP), True, snapshot
    )


def tokens_estimate(*, chars: int) -> int:
    """Tokens for `chars` characters of text by the chars/4 heuristic (rounded up)."""
    return -(-max(chars, 0) // CHARS_PER_TOKEN)


def cost_estimate_max(
    *, prices: ModelPrices, prompt_tokens: int, max_output_tokens: int
) -> Decimal | None:
    """The most a call should cost, for budget reservations: every prompt token at the full
    input price (no cache discount) plus `max_output_tokens` at the output price.
    None when the model has no input or output price."""
    if prices.input is None or prices.output is None:
        return None
    amount = (
        Decimal(prompt_tokens) * prices.input + Decimal(max_output_tokens) * prices.output
    ) / PER_MILLION
    return amount.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)
