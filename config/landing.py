"""The page at `/`: where a person who opens the site (or *View site* in the admin) can go.

It reads nothing from the database, so it answers even before the first migration.
"""

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse


def landing(request: HttpRequest) -> HttpResponse:
    """Links to the admin, the API docs and schema, the playground and the health check."""
    links = [
        ("Admin", reverse("admin:index"), "Providers, models, selections, keys, usage."),
        ("API docs", reverse("swagger-ui"), "Swagger UI of the native API under /api/."),
        ("OpenAPI schema", reverse("schema"), "The schema the docs are drawn from."),
        ("Playground", reverse("playground"), "Chat with a service or model (staff)."),
        ("Health", reverse("healthz"), "Database and cache check for load balancers."),
    ]
    return TemplateResponse(request, "landing/index.html", {"links": links})
