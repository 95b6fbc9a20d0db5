"""Output serializers of the model catalog and of what a program may call.

Prices are USD per million tokens and leave as decimal strings ("2.500000"), never floats.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from providers.models import Capability, ModelConfig, ModelKind, ModelPrice
from providers.resolution import ModelPrices

PRICE_HELP = "USD per million tokens, as a decimal string; null when unknown."


def _price_field(label: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=14,
        decimal_places=6,
        allow_null=True,
        coerce_to_string=True,
        help_text=f"{label}: {PRICE_HELP}",
    )


class PriceSerializer(serializers.Serializer):
    input = _price_field("Prompt tokens")
    output = _price_field("Generated tokens (reasoning included)")
    cached_input = _price_field("Prompt tokens read from the provider's cache")
    cache_write = _price_field("Prompt tokens written to the provider's cache")
    effective_from = serializers.CharField(
        allow_blank=True, help_text="When this price took effect (ISO 8601); blank if unpriced."
    )
    source = serializers.CharField(  # type: ignore[assignment]  # the API's field name
        allow_blank=True, help_text="catalog, synced or staff."
    )


def price_data(prices: ModelPrices | ModelPrice | None) -> dict[str, Any]:
    """A price row or a cached ModelPrices as PriceSerializer input."""
    if prices is None:
        return dict.fromkeys(("input", "output", "cached_input", "cache_write")) | {
            "effective_from": "",
            "source": "",
        }
    effective = prices.effective_from
    return {
        "input": prices.input,
        "output": prices.output,
        "cached_input": prices.cached_input,
        "cache_write": prices.cache_write,
        "effective_from": effective if isinstance(effective, str) else effective.isoformat(),
        "source": prices.source,
    }


class ModelConfigSerializer(serializers.ModelSerializer):
    """A catalog entry, with the price in force now."""

    model_string = serializers.CharField(read_only=True, help_text="`provider-slug:model-name`")
    provider: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    kind = serializers.ChoiceField(choices=ModelKind.choices, read_only=True)
    capabilities = serializers.ListField(
        child=serializers.ChoiceField(choices=Capability.choices), read_only=True
    )
    price = serializers.SerializerMethodField()

    class Meta:
        model = ModelConfig
        fields = [
            "id",
            "model_string",
            "provider",
            "name",
            "display_name",
            "kind",
            "enabled",
            "available",
            "context_window",
            "max_output_tokens",
            "capabilities",
            "price",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PriceSerializer)
    def get_price(self, obj: ModelConfig) -> dict[str, Any]:
        return PriceSerializer(price_data(obj.current_price)).data


class AvailableModelSerializer(serializers.Serializer):
    model_string = serializers.CharField(help_text="What to send as `model` when calling.")
    name = serializers.CharField()
    display_name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ModelKind.choices)
    capabilities = serializers.ListField(child=serializers.ChoiceField(choices=Capability.choices))
    context_window = serializers.IntegerField(allow_null=True)
    max_output_tokens = serializers.IntegerField(allow_null=True)
    prices = serializers.SerializerMethodField()

    @extend_schema_field(PriceSerializer)
    def get_prices(self, obj: Any) -> dict[str, Any]:
        return PriceSerializer(price_data(obj.prices)).data


class AvailableProviderSerializer(serializers.Serializer):
    """One provider and the models of it that a program may call."""

    slug = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    models = AvailableModelSerializer(many=True)
