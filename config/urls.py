"""URL routes: admin, the native API under /api/, the OpenAI-compatible API under /v1/,
Anthropic's Messages API under /anthropic/, the health checks (/healthz for load balancers,
/livez, /readyz), Prometheus' /metrics, and the API docs (Swagger UI and ReDoc served from
drf-spectacular-sidecar's files, no CDN)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config.access.views import mfa_setup
from config.health import healthz, livez, readyz
from config.landing import landing
from config.metrics_view import metrics
from config.views import RedocUIView, SwaggerUIView

urlpatterns = [
    # The call APIs first: Django tries the patterns in order on every request, and these
    # take nearly all of them (their prefixes are no one else's, so the order changes nothing
    # else).
    path("v1/", include("chat.v1_urls")),
    path("anthropic/", include("chat.anthropic_api.urls")),
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/second-factor/", mfa_setup, name="mfa-setup"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerUIView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocUIView.as_view(url_name="schema"), name="redoc"),
    path("api/", include("providers.urls")),
    path("api/", include("usage.urls")),
    path("api/", include("chat.urls")),
    path("api/", include("config.audit.urls")),
    path("playground/", include("chat.playground_urls")),
    path("", landing, name="landing"),
]

handler400 = "config.views.bad_request"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
