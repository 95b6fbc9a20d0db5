"""Staff API for providers: CRUD by slug, "test connection" and the live model list."""

from typing import Any

from django.db.models import ProtectedError, QuerySet, RestrictedError
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from config.errors import Conflict, NotFound
from providers.api.filters import boolean_param, choice_param
from providers.api.live_models import provider_live_models_list
from providers.api.permissions import StaffChangePermission, StaffModelPermissions
from providers.api.serializers_common import NOT_FOUND, READ_ERRORS, WRITE_ERRORS, error_response
from providers.api.serializers_providers import (
    ProviderCheckSerializer,
    ProviderSerializer,
    ProviderSettingsTestInputSerializer,
    ProviderSettingsTestSerializer,
    RemoteModelPageSerializer,
    RemoteModelSerializer,
)
from providers.models import ProviderConfig
from providers.models.provider import ProviderKind
from providers.presets import PRESETS_BY_SLUG
from providers.services.connection import provider_connection_check, provider_settings_test
from providers.services.provider import provider_create, provider_update


class StaffAddOrChangePermission(StaffModelPermissions):
    """Testing settings before saving: staff who may add or change providers."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not StaffModelPermissions.has_permission(self, request, view):
            return False
        return request.user.has_perm("providers.add_providerconfig") or request.user.has_perm(
            "providers.change_providerconfig"
        )

    def get_required_permissions(self, method: str, model_cls: Any) -> list[str]:
        return []  # checked above: either permission will do


PROVIDER_EXAMPLE = {
    "slug": "openai-eu",
    "preset": "openai",
    "kind": "openai",
    "name": "OpenAI (EU project)",
    "api_key_set": True,
    "api_key_hint": "set, ends in …9f2c",
    "base_url": "",
    "organization": "",
    "project": "proj_eu",
    "extra_header_names": [],
    "timeout_seconds": 60.0,
    "max_retries": 2,
    "is_active": True,
    "created_at": "2026-11-20T09:12:00Z",
    "updated_at": "2026-11-20T09:12:00Z",
    "created_by": "alice",
    "updated_by": "alice",
    "last_check_at": "2026-11-20T09:13:05Z",
    "last_check_ok": True,
    "last_check_latency_ms": 212,
    "last_check_message": "87 models",
}
PROVIDER_WRITE_EXAMPLE = OpenApiExample(
    "Register an OpenAI-compatible server",
    value={
        "slug": "local-ollama",
        "preset": "ollama",
        "name": "Ollama on the GPU box",
        "base_url": "http://gpu-01:11434/v1",
    },
    request_only=True,
)
PROVIDER_PRESET_EXAMPLE = OpenApiExample(
    "Register a service by its preset",
    description="The preset fills the kind and the base URL and brings its catalog models.",
    value={"slug": "mistral", "preset": "mistral", "name": "Mistral", "api_key": "<key>"},
    request_only=True,
)
PROVIDER_RESPONSE_EXAMPLE = OpenApiExample("A provider", value=PROVIDER_EXAMPLE, response_only=True)
PROVIDER_PUT_EXAMPLE = OpenApiExample(
    "Replace the settings, keeping the key",
    value={
        "slug": "openai-eu",
        "kind": "openai",
        "name": "OpenAI (EU project)",
        "project": "proj_eu",
        "timeout_seconds": 30,
        "max_retries": 2,
        "is_active": True,
    },
    request_only=True,
)
PROVIDER_FILTERS = [
    OpenApiParameter("kind", str, enum=ProviderKind.values, description="Only this kind."),
    OpenApiParameter("preset", str, enum=list(PRESETS_BY_SLUG), description="Only this preset."),
    OpenApiParameter("is_active", bool, description="Only active (true) or inactive (false)."),
]
PROVIDER_ERROR = error_response(
    "The provider failed; status and code follow the provider error taxonomy "
    "(502 credentials, 503 unavailable, 504 timeout, 429 rate limited).",
    "provider_authentication_failed",
    "The provider rejected the configured API key.",
    {"provider": "openai-eu", "upstream_status": 401},
)


@extend_schema_view(
    list=extend_schema(
        summary="List providers",
        description="Registered providers, by slug. Keys are never returned: only whether one "
        "is set and its last four characters.",
        parameters=PROVIDER_FILTERS,
        responses={200: ProviderSerializer(many=True), **READ_ERRORS},
        examples=[PROVIDER_RESPONSE_EXAMPLE],
    ),
    create=extend_schema(
        summary="Register a provider",
        description="`api_key` and `extra_headers` are write-only and stored encrypted. An "
        "OpenAI-compatible server needs an http(s) `base_url`. A `preset` fills `kind` and a "
        "blank `base_url`; the new provider gets its preset's catalog models and prices. Needs "
        "`add_providerconfig`.",
        responses={201: ProviderSerializer, **WRITE_ERRORS},
        examples=[PROVIDER_PRESET_EXAMPLE, PROVIDER_WRITE_EXAMPLE, PROVIDER_RESPONSE_EXAMPLE],
    ),
    retrieve=extend_schema(
        summary="Show a provider",
        description="One provider by slug, with the outcome of its last connection check.",
        responses={200: ProviderSerializer, **READ_ERRORS, 404: NOT_FOUND},
        examples=[PROVIDER_RESPONSE_EXAMPLE],
    ),
    update=extend_schema(
        summary="Replace a provider's settings",
        description='Omit `api_key` to keep the stored key; send "" to remove it. The slug '
        "cannot change. Needs `change_providerconfig`.",
        responses={200: ProviderSerializer, **WRITE_ERRORS, 404: NOT_FOUND},
        examples=[PROVIDER_PUT_EXAMPLE, PROVIDER_RESPONSE_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change some of a provider's settings",
        description='Rotate a key with `{"api_key": "sk-..."}`; deactivate with '
        '`{"is_active": false}`. Needs `change_providerconfig`.',
        responses={200: ProviderSerializer, **WRITE_ERRORS, 404: NOT_FOUND},
        examples=[
            OpenApiExample("Rotate the key", value={"api_key": "sk-new..."}, request_only=True),
            PROVIDER_RESPONSE_EXAMPLE,
        ],
    ),
    destroy=extend_schema(
        summary="Delete a provider",
        description="Refused with 409 while models or selections still depend on it. Needs "
        "`delete_providerconfig`.",
        responses={
            204: None,
            **READ_ERRORS,
            404: NOT_FOUND,
            409: error_response("Still in use.", "conflict", "The provider is still in use."),
        },
    ),
)
class ProviderViewSet(viewsets.ModelViewSet):
    serializer_class = ProviderSerializer
    permission_classes = [StaffModelPermissions]
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"
    queryset = ProviderConfig.objects.select_related("created_by", "updated_by")

    def get_queryset(self) -> QuerySet[ProviderConfig]:
        queryset = super().get_queryset().order_by("slug")
        params = self.request.query_params
        kind = choice_param(params, "kind", ProviderKind.values)
        if kind is not None:
            queryset = queryset.filter(kind=kind)
        preset = choice_param(params, "preset", list(PRESETS_BY_SLUG))
        if preset is not None:
            queryset = queryset.filter(preset=preset)
        is_active = boolean_param(params, "is_active")
        if is_active is not None:
            queryset = queryset.filter(is_active=is_active)
        return queryset

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        # A new provider starts with its catalog models; the key is bound to its base URL.
        provider, _ = provider_create(data=serializer.validated_data, user=self.request.user)
        serializer.instance = provider

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        assert serializer.instance is not None
        serializer.instance = provider_update(
            provider=serializer.instance, data=serializer.validated_data, user=self.request.user
        )

    def perform_destroy(self, instance: ProviderConfig) -> None:
        try:
            instance.delete()
        except (ProtectedError, RestrictedError):
            raise Conflict(
                f"Provider {instance.slug!r} is still used by models or selections; "
                "deactivate it, or remove what uses it first."
            ) from None

    @extend_schema(
        summary="Test a provider's connection",
        description="Makes one cheap authenticated call (listing models) and records when, "
        "whether and how fast it answered on the provider. A failed check is still a 200: "
        "`ok` is false and `error` carries the mapped code and message. Needs "
        "`change_providerconfig`.",
        request=None,
        responses={200: ProviderCheckSerializer, **READ_ERRORS, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "Reachable",
                value={
                    "ok": True,
                    "latency_ms": 184,
                    "model_count": 87,
                    "error": None,
                    "checked_at": "2026-11-20T09:13:05Z",
                },
                response_only=True,
            ),
            OpenApiExample(
                "Bad key",
                value={
                    "ok": False,
                    "latency_ms": 95,
                    "model_count": 0,
                    "error": {
                        "code": "provider_authentication_failed",
                        "message": "The provider rejected the configured API key.",
                    },
                    "checked_at": "2026-11-20T09:13:05Z",
                },
                response_only=True,
            ),
        ],
    )
    @action(detail=True, methods=["post"], permission_classes=[StaffChangePermission])
    def test(self, request: Request, slug: str | None = None) -> Response:
        provider = self.get_object()
        result = provider_connection_check(provider=provider)
        return Response(ProviderCheckSerializer.from_result(result, provider))

    @extend_schema(
        operation_id="api_providers_test_settings",
        summary="Test provider settings before saving",
        description="Lists the models the provider would show with the given kind, base URL "
        "and key, without saving anything. The key is used for this call only: never stored, "
        "logged, cached or returned. With `slug` and no `api_key`, the stored key of that "
        "provider is used, but only if `kind` and `base_url` are where it was entered for. "
        "A failed test is still a 200 with `ok` false and the mapped `error`. Needs "
        "`add_providerconfig` or `change_providerconfig`.",
        request=ProviderSettingsTestInputSerializer,
        responses={200: ProviderSettingsTestSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Test a local Ollama",
                value={
                    "kind": "openai_compatible",
                    "base_url": "http://127.0.0.1:11434/v1",
                    "api_key": "ollama",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Reachable",
                value={
                    "ok": True,
                    "latency_ms": 120,
                    "model_count": 2,
                    "models": ["llama3.2", "qwen3"],
                    "error": None,
                },
                response_only=True,
            ),
        ],
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="test",
        url_name="test-settings",
        permission_classes=[StaffAddOrChangePermission],
    )
    def test_settings(self, request: Request) -> Response:
        serializer = ProviderSettingsTestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        stored = None
        if slug := data.pop("slug", None):
            stored = ProviderConfig.objects.filter(slug=slug).first()
            if stored is None:
                raise NotFound(f"No provider with slug {slug[:64]!r}.")
        result = provider_settings_test(
            kind=data["kind"],
            base_url=data.get("base_url") or "",
            api_key=data.get("api_key") or "",
            extra_headers=data.get("extra_headers"),
            organization=data.get("organization") or "",
            project=data.get("project") or "",
            timeout_seconds=data.get("timeout_seconds"),
            stored=stored,
            credentials=data.get("credentials"),
        )
        return Response(ProviderSettingsTestSerializer.from_result(result))

    @extend_schema(
        summary="List the provider's live models",
        description="What the provider itself lists right now (not the catalog), cached for "
        "five minutes. Provider failures answer with their own status and code.",
        responses={
            200: RemoteModelPageSerializer,
            **READ_ERRORS,
            404: NOT_FOUND,
            502: PROVIDER_ERROR,
            503: OpenApiResponse(description="The provider is unavailable."),
            504: OpenApiResponse(description="The provider did not answer in time."),
        },
        examples=[
            OpenApiExample(
                "Two models",
                value={
                    "count": 2,
                    "next": None,
                    "previous": None,
                    "results": [
                        {
                            "id": "gpt-4o",
                            "display_name": "",
                            "kind": "chat",
                            "context_window": None,
                            "max_output_tokens": None,
                        },
                        {
                            "id": "text-embedding-3-small",
                            "display_name": "",
                            "kind": "embedding",
                            "context_window": None,
                            "max_output_tokens": None,
                        },
                    ],
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"])
    def models(self, request: Request, slug: str | None = None) -> Response:
        provider = self.get_object()
        models: list[dict[str, Any]] = provider_live_models_list(provider=provider)
        paginator = self.paginator
        assert paginator is not None  # the API's default pagination
        page = paginator.paginate_queryset(models, request, view=self)
        return paginator.get_paginated_response(RemoteModelSerializer(page, many=True).data)
