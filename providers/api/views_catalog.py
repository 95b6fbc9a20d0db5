"""The model catalog (staff and programs) and what a program may call right now.

Consumer keys read both lists narrowed to the models they may use; staff need the view
permission on models.
"""

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from providers.api.filters import boolean_param, choice_param
from providers.api.permissions import StaffOrConsumerRead, consumer_identity
from providers.api.serializers_catalog import AvailableProviderSerializer, ModelConfigSerializer
from providers.api.serializers_common import READ_ERRORS
from providers.models import Capability, ModelConfig, ModelKind
from providers.selectors import model_config_list, models_available_list

PRICES_EXAMPLE = {
    "input": "2.000000",
    "output": "8.000000",
    "cached_input": "0.500000",
    "cache_write": None,
    "effective_from": "2026-11-01T00:00:00+00:00",
    "source": "catalog",
}
CATALOG_EXAMPLE = {
    "id": 12,
    "model_string": "openai:gpt-4.1",
    "provider": "openai",
    "name": "gpt-4.1",
    "display_name": "GPT-4.1",
    "kind": "chat",
    "enabled": True,
    "available": True,
    "context_window": 1047576,
    "max_output_tokens": 32768,
    "capabilities": ["vision", "tools", "json_output", "streaming"],
    "price": PRICES_EXAMPLE,
    "updated_at": "2026-11-20T09:12:00Z",
}
AVAILABLE_EXAMPLE = {
    "slug": "openai",
    "name": "OpenAI",
    "kind": "openai",
    "models": [
        {
            "model_string": "openai:gpt-4.1",
            "name": "gpt-4.1",
            "display_name": "GPT-4.1",
            "kind": "chat",
            "capabilities": ["vision", "tools", "json_output", "streaming"],
            "context_window": 1047576,
            "max_output_tokens": 32768,
            "prices": PRICES_EXAMPLE,
        }
    ],
}
KIND_PARAM = OpenApiParameter("kind", str, enum=ModelKind.values, description="chat or embedding.")


class ModelCatalogViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ModelConfigSerializer
    permission_classes = [StaffOrConsumerRead]
    queryset = ModelConfig.objects.all()

    def get_queryset(self) -> QuerySet[ModelConfig]:
        params = self.request.query_params
        queryset = model_config_list(
            provider=params.get("provider") or None,
            kind=choice_param(params, "kind", ModelKind.values),
            capability=choice_param(params, "capability", Capability.values),
            enabled=boolean_param(params, "enabled"),
            available=boolean_param(params, "available"),
        )
        identity = consumer_identity(self.request)
        if identity is not None and identity.restricted:
            # A key restricted to services calls no model directly, so it sees none.
            queryset = queryset.filter(_model_strings_q(identity.allowed_models))
        return queryset

    @extend_schema(
        summary="List the model catalog",
        description="Every model known for every provider (enabled or not), with its "
        "capabilities, context window and the price in force now (USD per million tokens, "
        "decimal strings). Staff need `view_modelconfig`; a consumer key sees only the models "
        "it may call.",
        parameters=[
            OpenApiParameter("provider", str, description="A provider slug."),
            KIND_PARAM,
            OpenApiParameter(
                "capability", str, enum=Capability.values, description="Only models with it."
            ),
            OpenApiParameter("enabled", bool, description="Only enabled (true) or disabled."),
            OpenApiParameter(
                "available", bool, description="Only models the provider still lists (true)."
            ),
        ],
        responses={200: ModelConfigSerializer(many=True), **READ_ERRORS},
        examples=[OpenApiExample("A catalog entry", value=CATALOG_EXAMPLE, response_only=True)],
    )
    def list(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="List the models a program may call",
        description="Enabled models of active providers that have a key, grouped by provider, "
        "with capabilities, context window and current prices. Send any `model_string` as "
        "`model` when calling. A consumer key sees only the models it may use.",
        parameters=[KIND_PARAM],
        responses={200: AvailableProviderSerializer(many=True), **READ_ERRORS},
        examples=[OpenApiExample("One provider", value=AVAILABLE_EXAMPLE, response_only=True)],
    )
    @action(detail=False, methods=["get"])
    def available(self, request: Request) -> Response:
        identity = consumer_identity(request)
        allowed = frozenset(identity.allowed_models) if identity and identity.restricted else None
        groups = models_available_list(
            kind=choice_param(request.query_params, "kind", ModelKind.values),
            model_strings=allowed,
        )
        page = self.paginate_queryset(groups)
        return self.get_paginated_response(AvailableProviderSerializer(page, many=True).data)


def _model_strings_q(model_strings: tuple[str, ...]) -> Q:
    """Models named by `slug:name` strings (malformed entries match nothing)."""
    condition = Q(pk__in=[])
    for model_string in model_strings:
        slug, sep, name = model_string.partition(":")
        if sep and slug and name:
            condition |= Q(provider__slug=slug, name=name)
    return condition
