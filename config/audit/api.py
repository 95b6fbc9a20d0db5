"""GET /api/audit/: the audit trail for staff holding audit.view_auditevent.

Filters: actor, actor_type, source, action, object_type, object_id, since, until (ISO date or
datetime). JSON pages (limit/offset), or every matching row as CSV with `?format=csv`.
"""

import csv
import json
from collections.abc import Iterator
from datetime import datetime, time
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from config.audit.models import AuditEvent

CSV_COLUMNS = [
    "at", "actor_type", "actor_id", "actor", "source", "ip", "object_type", "object_id",
    "object_repr", "action", "changes",
]  # fmt: skip
EXACT_FILTERS = ["actor", "actor_type", "actor_id", "source", "action", "object_type", "object_id"]


class CanViewAudit(permissions.BasePermission):
    """Staff users with the view permission; consumer keys (never staff) are refused."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_active
            and user.is_staff
            and user.has_perm("audit.view_auditevent")
        )


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", *CSV_COLUMNS]


class _IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=csv` is answered by the view itself, so DRF must not 404 on it."""

    # Negotiation reads only URL_FORMAT_OVERRIDE from its settings; the stubs want all of DRF's.
    settings = type("S", (), {"URL_FORMAT_OVERRIDE": None})  # type: ignore[assignment]


def _moment(raw: str, name: str, *, end: bool) -> datetime:
    parsed = parse_datetime(raw)
    if parsed is None:
        day = parse_date(raw)
        if day is None:
            raise exceptions.ValidationError({name: ["An ISO date or date-time."]})
        parsed = datetime.combine(day, time.max if end else time.min)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


class AuditPagination(LimitOffsetPagination):
    max_limit = 1000


class AuditEventListView(generics.ListAPIView):
    serializer_class = AuditEventSerializer
    permission_classes = [CanViewAudit]
    pagination_class = AuditPagination
    content_negotiation_class = _IgnoreFormatParameter

    def get_queryset(self) -> QuerySet[AuditEvent]:
        params = self.request.query_params
        qs = AuditEvent.objects.all()
        for name in EXACT_FILTERS:
            value = params.get(name)
            if value:
                qs = qs.filter(**{name: value})
        try:
            if params.get("since"):
                qs = qs.filter(at__gte=_moment(params["since"], "since", end=False))
            if params.get("until"):
                qs = qs.filter(at__lte=_moment(params["until"], "until", end=True))
        except ValueError:
            raise exceptions.ValidationError({"since": ["An ISO date or date-time."]}) from None
        return qs.order_by("-at", "-id")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        fmt = request.query_params.get("format")
        if fmt == "csv":
            rows = self.get_queryset()[: settings.AUDIT_EXPORT_MAX_ROWS]
            response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="audit.csv"'
            return response
        if fmt not in (None, "", "json"):
            raise exceptions.ValidationError({"format": ["json or csv."]})
        return super().list(request, *args, **kwargs)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in rows.iterator(chunk_size=1000):
        data = AuditEventSerializer(event).data
        yield writer.writerow([_cell(data[c]) for c in CSV_COLUMNS])


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True)
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run a typed name as a formula
    return value
