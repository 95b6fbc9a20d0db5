"""The staff usage dashboard: an admin page with charts and the JSON endpoint it reads.

Both are routed by DailyUsageAdmin.get_urls (so /admin/usage/dailyusage/dashboard/ and
.../dashboard/data/), wrapped in the admin site's login and staff check, and additionally need
the view permission on DailyUsage. The page is static HTML plus the local Chart.js; every
figure comes from the data endpoint, which reads DailyUsage through usage.selectors.

The rollups lag the ledger by up to the beat interval, so the page says when they were last
written and how many calls came after, and offers "Roll up now" (a POST to .../dashboard/rollup/,
for staff who may change daily usage) which runs the same service as the beat task.
"""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from config.api import error_body
from usage.api.serializers import UsageQuerySerializer
from usage.selectors import (
    usage_dashboard_data,
    usage_default_range,
    usage_filter_choices,
    usage_rollup_freshness,
)
from usage.services.rollup import usage_rollup_recent

ROLLUP_PERMISSION = "usage.change_dailyusage"  # recomputing the rollups changes them


def _require_view_permission(model_admin: admin.ModelAdmin, request: HttpRequest) -> None:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied


def dashboard_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    _require_view_permission(model_admin, request)
    since, until = usage_default_range()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Usage dashboard",
        "opts": model_admin.model._meta,
        "data_url": reverse("admin:usage_dailyusage_dashboard_data"),
        "choices": usage_filter_choices(),
        "freshness": usage_rollup_freshness(),
        "may_roll_up": request.user.has_perm(ROLLUP_PERMISSION),
        "rollup_url": reverse("admin:usage_dailyusage_dashboard_rollup"),
        "values": {
            "from": request.GET.get("from", since.isoformat()),
            "to": request.GET.get("to", until.isoformat()),
            "provider": request.GET.get("provider", ""),
            "service": request.GET.get("service", ""),
        },
    }
    return TemplateResponse(request, "admin/usage/dashboard.html", context)


def dashboard_data_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> JsonResponse:
    """The dashboard's series as JSON (Decimal costs as strings); bad filters are a 400 in the
    API's error shape. An empty `service` means "all services" here, as in the page's form."""
    _require_view_permission(model_admin, request)
    params = {key: value for key, value in request.GET.items() if value != ""}
    query = UsageQuerySerializer(data=params)
    try:
        query.is_valid(raise_exception=True)
    except ValidationError as exc:
        # A serializer's errors are a dict of fields; only a bare ValidationError is a list.
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        field, messages = next(iter(detail.items()))
        first = messages[0] if isinstance(messages, list) else messages
        message = f"{field}: {first}" if field != "non_field_errors" else str(first)
        return JsonResponse(error_body("invalid", message, {"fields": detail}), status=400)
    data = usage_dashboard_data(flt=query.validated_data["filter"])
    return JsonResponse(data, encoder=DjangoJSONEncoder)


def dashboard_rollup_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Roll up today (and yesterday just after midnight) now, then back to the dashboard."""
    if not request.user.has_perm(ROLLUP_PERMISSION):
        raise PermissionDenied
    days = usage_rollup_recent()
    model_admin.message_user(
        request, f"Rolled up {', '.join(d.isoformat() for d in days)}.", messages.SUCCESS
    )
    back = reverse("admin:usage_dailyusage_dashboard")
    query = QueryDict(request.POST.get("query", "")).urlencode()  # the filters, re-encoded
    return HttpResponseRedirect(f"{back}?{query}" if query else back)


def dashboard_urls(model_admin: admin.ModelAdmin) -> list[Any]:
    site = model_admin.admin_site

    def page(request: HttpRequest) -> HttpResponse:
        return dashboard_view(model_admin, request)

    def data(request: HttpRequest) -> HttpResponse:
        return dashboard_data_view(model_admin, request)

    @require_POST
    def rollup(request: HttpRequest) -> HttpResponse:
        return dashboard_rollup_view(model_admin, request)

    return [
        path("dashboard/", site.admin_view(page), name="usage_dailyusage_dashboard"),
        path("dashboard/data/", site.admin_view(data), name="usage_dailyusage_dashboard_data"),
        path(
            "dashboard/rollup/", site.admin_view(rollup), name="usage_dailyusage_dashboard_rollup"
        ),
    ]
