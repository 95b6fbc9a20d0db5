"""Staff usage API: daily rows (JSON or CSV) and a summary, all read from DailyUsage.

Staff need the view permission on DailyUsage; consumer keys get 403 and anonymous requests 401
(StaffModelPermissions). Figures are as fresh as the last rollup (every few minutes).
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from providers.api.permissions import StaffModelPermissions
from providers.api.serializers_common import INVALID, READ_ERRORS
from usage.api.renderers import DailyUsageCSVRenderer
from usage.api.serializers import DailyListSerializer, SummarySerializer, UsageQuerySerializer
from usage.models import DailyUsage
from usage.selectors import usage_daily_list, usage_summary


class UsageAPIView(APIView):
    permission_classes = [StaffModelPermissions]
    queryset = DailyUsage.objects.none()  # names the model whose view permission is required


class DailyUsageView(UsageAPIView):
    renderer_classes = [JSONRenderer, DailyUsageCSVRenderer]

    @extend_schema(
        operation_id="usage_daily",
        parameters=[
            OpenApiParameter("from", str, description="First day, YYYY-MM-DD"),
            UsageQuerySerializer,
        ],
        responses={200: DailyListSerializer, 400: INVALID, **READ_ERRORS},
        summary="Daily usage and cost, optionally grouped",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        group_by = params.get("group_by")
        data = {
            "filter": params["filter"],
            "group_by": group_by,
            "results": usage_daily_list(flt=params["filter"], group_by=group_by),
        }
        response = Response(DailyListSerializer(data).data)
        if isinstance(request.accepted_renderer, DailyUsageCSVRenderer):
            flt = params["filter"]
            name = f"usage-{flt.since}-{flt.until}{'-' + group_by if group_by else ''}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        """Errors, and OPTIONS' description of the endpoint, are JSON even when CSV was asked
        for: the CSV renderer only knows how to render the report."""
        not_a_report = getattr(response, "exception", False) or request.method == "OPTIONS"
        if not_a_report and isinstance(
            getattr(request, "accepted_renderer", None), DailyUsageCSVRenderer
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class DailyUsageCSVView(DailyUsageView):
    """`/api/usage/daily.csv`: the same report as a CSV download."""

    renderer_classes = [DailyUsageCSVRenderer, JSONRenderer]

    @extend_schema(
        operation_id="usage_daily_csv",
        parameters=[
            OpenApiParameter("from", str, description="First day, YYYY-MM-DD"),
            UsageQuerySerializer,
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR, 400: INVALID, **READ_ERRORS},
        summary="Daily usage and cost as CSV",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class UsageSummaryView(UsageAPIView):
    @extend_schema(
        operation_id="usage_summary",
        responses={200: SummarySerializer, **READ_ERRORS},
        summary="Today, month to date, top models, error rate and budget status",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(SummarySerializer(usage_summary()).data)
