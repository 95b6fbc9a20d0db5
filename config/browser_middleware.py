"""The browser's middlewares, run for every path except the APIs that only consumer keys call.

Sessions, CSRF, the session user, the second factor, messages, frame options and sign-in
lockouts serve people in a browser (admin, playground, dashboard, the session-authenticated
/api/). `/v1/` and `/anthropic/` authenticate every request by its consumer key and never read
a session, so on those paths (KEY_API_PATH_PREFIXES) these middlewares only cost time: about a
fifth of Django's own work per call, on the path whose overhead issue 11 measures. Listing them
in BROWSER_MIDDLEWARE and this one class in MIDDLEWARE keeps one chain for the whole site
(the test client, runserver and gunicorn all run the same one) with a branch for those paths.

The inner middlewares' hooks are run as Django's handler runs them (`process_view` in list
order, `process_exception` and `process_template_response` innermost first), each wrapped so
that an exception becomes a response, as between the entries of MIDDLEWARE.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

Hook = Callable[..., Any]


class BrowserMiddleware:
    """BROWSER_MIDDLEWARE as one entry of MIDDLEWARE, skipped on KEY_API_PATH_PREFIXES."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.view_hooks: list[Hook] = []
        self.exception_hooks: list[Hook] = []
        self.template_response_hooks: list[Hook] = []
        self.prefixes = tuple(settings.KEY_API_PATH_PREFIXES)
        handler: Callable[[HttpRequest], Any] = get_response
        for path in reversed(settings.BROWSER_MIDDLEWARE):
            try:
                instance = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self.view_hooks.insert(0, instance.process_view)
            if hasattr(instance, "process_exception"):
                self.exception_hooks.append(instance.process_exception)
            if hasattr(instance, "process_template_response"):
                self.template_response_hooks.append(instance.process_template_response)
            handler = convert_exception_to_response(instance)
        self.browser_chain = handler

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(self.prefixes):
            return self.get_response(request)
        response: HttpResponse = self.browser_chain(request)  # sync: async_capable is False
        return response

    def process_view(
        self, request: HttpRequest, view: Hook, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        if request.path_info.startswith(self.prefixes):
            return None
        for hook in self.view_hooks:
            response = hook(request, view, args, kwargs)
            if response is not None:
                return response
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if request.path_info.startswith(self.prefixes):
            return None
        for hook in self.exception_hooks:
            response = hook(request, exception)
            if response is not None:
                return response
        return None

    def process_template_response(self, request: HttpRequest, response: Any) -> Any:
        if request.path_info.startswith(self.prefixes):
            return response
        for hook in self.template_response_hooks:
            response = hook(request, response)
        return response


# What admin (admin.E408-E410), the deployment checklist (security.W002, W003) and django-axes
# (axes.W002) look for in MIDDLEWARE, which SILENCED_SYSTEM_CHECKS silences because these live
# in BROWSER_MIDDLEWARE instead: this check stands in for them.
REQUIRED_BROWSER_MIDDLEWARE = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
)


def browser_middleware_check(**kwargs: Any) -> list[checks.CheckMessage]:
    """The admin and sign-in lockouts still get their middlewares: in BROWSER_MIDDLEWARE, with
    BrowserMiddleware in MIDDLEWARE to run them."""
    errors: list[checks.CheckMessage] = []
    if "config.browser_middleware.BrowserMiddleware" not in settings.MIDDLEWARE:
        errors.append(
            checks.Error(
                "config.browser_middleware.BrowserMiddleware must be in MIDDLEWARE: it runs "
                "BROWSER_MIDDLEWARE (sessions, users, messages, sign-in lockouts).",
                id="config.E001",
            )
        )
    errors += [
        checks.Error(f"{path} must be in BROWSER_MIDDLEWARE.", id="config.E002")
        for path in REQUIRED_BROWSER_MIDDLEWARE
        if path not in settings.BROWSER_MIDDLEWARE
    ]
    return errors
