"""Per-service model selections: read by staff and programs, written by staff.

Writes go through `providers.services.selection` (which validates and records the audit row);
the view only checks permissions, shapes input and maps "unknown service" to a 404 that lists
the services the caller may see.
"""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import NotFound
from providers.api.permissions import StaffOrConsumerRead, consumer_identity
from providers.api.serializers_common import READ_ERRORS, WRITE_ERRORS, error_response
from providers.api.serializers_selections import SelectionSerializer, SelectionWriteSerializer
from providers.models import ModelSelection
from providers.selectors import model_selection_list, model_selection_names
from providers.services.selection import model_selection_update, model_selection_upsert

SELECTION_EXAMPLE = {
    "service": "rag_agent",
    "primary": "anthropic:claude-sonnet-4-5",
    "primary_group": None,
    "fallbacks": ["openai:gpt-4.1"],
    "temperature": 0.2,
    "max_tokens": 2048,
    "top_p": None,
    "system_prompt": "",
    "cache_prompt": False,
    "required_capabilities": ["tools"],
    "min_context_window": 128000,
    "description": "Answers questions over the document store.",
    "cache_ttl_seconds": 0,
    "cache_shared": False,
    "chain": [
        {
            "model_string": "anthropic:claude-sonnet-4-5",
            "role": "primary",
            "usable": True,
            "reason": "",
        },
        {"model_string": "openai:gpt-4.1", "role": "fallback", "usable": True, "reason": ""},
    ],
    "created_at": "2026-11-01T10:00:00Z",
    "updated_at": "2026-11-20T09:12:00Z",
    "updated_by": "alice",
}
WRITE_EXAMPLE = OpenApiExample(
    "Primary with one fallback",
    value={
        "primary": "anthropic:claude-sonnet-4-5",
        "fallbacks": ["openai:gpt-4.1"],
        "temperature": 0.2,
        "required_capabilities": ["tools"],
        "min_context_window": 128000,
    },
    request_only=True,
)
UNKNOWN_SERVICE = error_response(
    "Unknown service; the message and details list the valid services.",
    "not_found",
    "Unknown service 'rag'; valid services: embeddings, rag_agent.",
    {"service": "rag", "valid_services": ["embeddings", "rag_agent"]},
)
SELECTION_RESPONSE_EXAMPLE = OpenApiExample(
    "A selection", value=SELECTION_EXAMPLE, response_only=True
)


@extend_schema_view(
    list=extend_schema(
        summary="List model selections",
        description="Which model (and fallbacks) each internal service uses. A consumer key "
        "sees only the services it may use.",
        responses={200: SelectionSerializer(many=True), **READ_ERRORS},
        examples=[SELECTION_RESPONSE_EXAMPLE],
    ),
    retrieve=extend_schema(
        summary="Show a service's model selection",
        description="With the resolved chain: each model and whether it is usable right now.",
        responses={200: SelectionSerializer, **READ_ERRORS, 404: UNKNOWN_SERVICE},
        examples=[SELECTION_RESPONSE_EXAMPLE],
    ),
    update=extend_schema(
        summary="Set a service's model selection",
        description="Replaces the whole selection (omitted optional fields become empty); "
        "creates it if the service has none yet (201, needs `add_modelselection`). Refused, "
        "field by field, for a malformed model string, an unknown provider or model, a "
        "disabled model, an inactive or keyless provider, a kind or capability mismatch or a "
        "too small context window (a fallback group, `group:<name>`, is refused when unknown, "
        "disabled, without an enabled member, or when one of its enabled members would be). "
        "Applies to the next call in every process; the change is "
        "recorded with who, when and what. Needs `change_modelselection`.",
        request=SelectionWriteSerializer,
        responses={200: SelectionSerializer, 201: SelectionSerializer, **WRITE_ERRORS},
        examples=[WRITE_EXAMPLE, SELECTION_RESPONSE_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change part of a service's model selection",
        description="Only the fields sent change; `fallbacks` replaces the chain; a null "
        "parameter clears it. Validated and recorded like PUT. Needs `change_modelselection`.",
        request=SelectionWriteSerializer(partial=True),
        responses={
            200: SelectionSerializer,
            **WRITE_ERRORS,
            404: UNKNOWN_SERVICE,
        },
        examples=[
            OpenApiExample(
                "Switch the primary",
                value={"primary": "openai:gpt-4.1"},
                request_only=True,
            ),
            SELECTION_RESPONSE_EXAMPLE,
        ],
    ),
)
class SelectionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = SelectionSerializer
    permission_classes = [StaffOrConsumerRead]
    lookup_field = "service"
    lookup_value_regex = "[^/]+"
    queryset = ModelSelection.objects.all()
    http_method_names = ["get", "put", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[ModelSelection]:
        queryset = model_selection_list().order_by("service")
        identity = consumer_identity(self.request)
        if identity is not None and identity.restricted:
            # A key restricted to models uses no service, so it sees none (nor their prompts).
            queryset = queryset.filter(service__in=identity.allowed_services)
        return queryset

    def get_object(self) -> ModelSelection:
        service = self.kwargs[self.lookup_field]
        selection = self.get_queryset().filter(service=service).first()
        if selection is None:
            raise self._unknown_service(service)
        return selection

    def update(self, request: Request, *args: object, **kwargs: object) -> Response:
        service = self.kwargs[self.lookup_field]
        partial = bool(kwargs.get("partial"))
        serializer = SelectionWriteSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        arguments = serializer.service_arguments()
        if partial:
            selection = model_selection_update(
                selection=self.get_object(), actor=request.user, source="api", **arguments
            )
            created = False
        else:
            created = not ModelSelection.objects.filter(service=service).exists()
            if created and not request.user.has_perm("providers.add_modelselection"):
                raise PermissionDenied(
                    f"Service {service!r} has no selection yet; creating one needs the "
                    "permission to add model selections."
                )
            selection = model_selection_upsert(
                service=service, actor=request.user, source="api", **arguments
            )
        selection = model_selection_list().get(pk=selection.pk)
        return Response(
            SelectionSerializer(selection).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def partial_update(self, request: Request, *args: object, **kwargs: object) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def _unknown_service(self, service: str) -> NotFound:
        identity = consumer_identity(self.request)
        names = [n for n in model_selection_names() if identity is None or identity.may_use(n)]
        listed = ", ".join(names) if names else "none are configured"
        return NotFound(
            f"Unknown service {service[:100]!r}; valid services: {listed}.",
            details={"service": service[:100], "valid_services": names},
        )
