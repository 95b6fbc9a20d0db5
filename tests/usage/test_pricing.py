"""Pricing: buckets x per-million prices, exact Decimals, never a silent 0."""

from decimal import Decimal

from providers.adapters.types import Usage
from providers.resolution import ModelPrices
from usage.pricing import cost_estimate_max, tokens_estimate, usage_cost

PRICES = ModelPrices(
    input=Decimal("3"),
    output=Decimal("15"),
    cached_input=Decimal("0.30"),
    cache_write=Decimal("3.75"),
    effective_from="2026-01-01T00:00:00+00:00",
    source="catalog",
    price_id=42,
)


def test_each_bucket_is_priced_at_its_own_price():
    usage = Usage(
        input_tokens=1_000_000,
        cached_input_tokens=1_000_000,
        cache_write_tokens=1_000_000,
        output_tokens=1_000_000,
        reasoning_tokens=1_000_000,
    )
    priced = usage_cost(usage=usage, prices=PRICES)
    assert priced.cost == Decimal("3") + Decimal("0.30") + Decimal("3.75") + Decimal("30")
    assert priced.is_priced


def test_cost_is_exact_to_ten_places():
    priced = usage_cost(usage=Usage(input_tokens=7, output_tokens=3), prices=PRICES)
    assert priced.cost == Decimal("0.0000660000")  # (7 x 3 + 3 x 15) / 1e6


def test_snapshot_keeps_the_prices_used():
    snapshot = usage_cost(usage=Usage(input_tokens=1), prices=PRICES).price_snapshot
    assert snapshot["price_id"] == 42
    assert snapshot["input"] == "3" and snapshot["cached_input"] == "0.30"
    assert snapshot["unit"] == "USD per 1M tokens"


def test_missing_price_for_used_bucket_means_unpriced_not_zero():
    prices = ModelPrices(input=Decimal("3"), output=Decimal("15"))  # no cached price
    priced = usage_cost(usage=Usage(input_tokens=10, cached_input_tokens=5), prices=prices)
    assert priced.cost is None and not priced.is_priced
    assert priced.missing_prices == ("cached_input",)


def test_missing_price_for_an_empty_bucket_does_not_matter():
    prices = ModelPrices(input=Decimal("3"), output=Decimal("15"))
    priced = usage_cost(usage=Usage(input_tokens=10, output_tokens=1), prices=prices)
    assert priced.is_priced and priced.cost == Decimal("0.0000450000")


def test_model_without_any_price_is_unpriced():
    priced = usage_cost(usage=Usage(input_tokens=10), prices=ModelPrices())
    assert priced.cost is None and not priced.is_priced


def test_estimate_is_full_input_price_plus_max_output():
    assert cost_estimate_max(prices=PRICES, prompt_tokens=1000, max_output_tokens=500) == Decimal(
        "0.0105000000"
    )
    assert cost_estimate_max(prices=ModelPrices(), prompt_tokens=1, max_output_tokens=1) is None


def test_token_estimate_is_chars_over_four_rounded_up():
    assert tokens_estimate(chars=0) == 0
    assert tokens_estimate(chars=1) == 1
    assert tokens_estimate(chars=8) == 2
    assert tokens_estimate(chars=9) == 3
