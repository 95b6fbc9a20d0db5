"""Model groups: read by staff and programs, written by staff.

Writes go through `providers.services.group`; the view checks permissions and shapes input.
"""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from providers.api.permissions import StaffOrConsumerRead
from providers.api.serializers_common import (
    NOT_FOUND,
    READ_ERRORS,
    WRITE_ERRORS,
    error_response,
)
from providers.api.serializers_groups import GroupSerializer, GroupWriteSerializer
from providers.models import ModelGroup
from providers.selectors import model_group_get, model_group_list
from providers.services.group import model_group_delete, model_group_upsert

WRITE_EXAMPLE = OpenApiExample(
    "Two deployments, 3:1",
    value={
        "strategy": "weighted",
        "members": [
            {"model": "azure-east:gpt-4o", "weight": 3, "rpm_limit": 600, "tpm_limit": 150000},
            {"model": "azure-west:gpt-4o", "weight": 1},
        ],
    },
    request_only=True,
)
IN_USE = error_response(
    "The group is the primary group of a selection.",
    "conflict",
    "Group 'pool' is the primary group of rag_agent; change those selections first.",
)


@extend_schema_view(
    list=extend_schema(
        summary="List model groups",
        description="Each group is one logical model served by several deployments; call it "
        "as `group:<name>`.",
        responses={200: GroupSerializer(many=True), **READ_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Show a model group",
        responses={200: GroupSerializer, **READ_ERRORS, 404: NOT_FOUND},
    ),
    update=extend_schema(
        summary="Set a model group",
        description="Replaces the group (strategy, members); creates it if it does not exist "
        "(201, needs `add_modelgroup`). Applies to the next call in every process. Needs "
        "`change_modelgroup`.",
        request=GroupWriteSerializer,
        responses={200: GroupSerializer, 201: GroupSerializer, **WRITE_ERRORS},
        examples=[WRITE_EXAMPLE],
    ),
    destroy=extend_schema(
        summary="Delete a model group",
        responses={204: None, **READ_ERRORS, 404: NOT_FOUND, 409: IN_USE},
    ),
)
class GroupViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = GroupSerializer
    permission_classes = [StaffOrConsumerRead]
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    queryset = ModelGroup.objects.all()
    http_method_names = ["get", "put", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[ModelGroup]:
        return model_group_list().order_by("name")

    def get_object(self) -> ModelGroup:
        return model_group_get(name=self.kwargs[self.lookup_field])

    def update(self, request: Request, *args: object, **kwargs: object) -> Response:
        name = self.kwargs[self.lookup_field]
        serializer = GroupWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = not ModelGroup.objects.filter(name=name).exists()
        if created and not request.user.has_perm("providers.add_modelgroup"):
            raise PermissionDenied("Creating a model group needs the permission to add one.")
        data = serializer.validated_data
        group = model_group_upsert(
            name=name,
            strategy=data["strategy"],
            enabled=data["enabled"],
            description=data["description"],
            members=[dict(member) for member in data["members"]],
        )
        group = model_group_list().get(pk=group.pk)
        return Response(
            GroupSerializer(group).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def destroy(self, request: Request, *args: object, **kwargs: object) -> Response:
        model_group_delete(group=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
