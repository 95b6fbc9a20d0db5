"""The staff usage dashboard: an admin page with charts and the JSON endpoint it reads.

Both are routed by DailyUsageAdmin.get_urls (so /admin/usage/dailyusage/dashboard/ and
.../dashboard/data/), wrapped in the admin site's login and staff check, and additionally need
the view permission on DailyUsage. The page is static HTML plus the local Chart.js; every
figure comes from the data endpoint, which reads DailyUsage through usage.selectors.
"""

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from rest_framework.exceptions import ValidationError

from config.api import error_body
from usage.api.serializers import UsageQuerySerializer
from usage.selectors import usage_dashboard_data, usage_default_range, usage_filter_choices


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
        field, messages = next(iter(exc.detail.items()))
        message = f"{field}: {messages[0]}" if field != "non_field_errors" else str(messages[0])
        return JsonResponse(error_body("invalid", message, {"fields": exc.detail}), status=400)
    data = usage_dashboard_data(flt=query.validated_data["filter"])
    return JsonResponse(data, encoder=DjangoJSONEncoder)


def dashboard_urls(model_admin: admin.ModelAdmin) -> list[Any]:
    site = model_admin.admin_site

    def page(request: HttpRequest) -> HttpResponse:
        return dashboard_view(model_admin, request)

    def data(request: HttpRequest) -> HttpResponse:
        return dashboard_data_view(model_admin, request)

    return [
        path("dashboard/", site.admin_view(page), name="usage_dailyusage_dashboard"),
        path("dashboard/data/", site.admin_view(data), name="usage_dailyusage_dashboard_data"),
    ]
