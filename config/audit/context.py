"""Who is acting, from where: a context variable set per request, per task and per command.

Reading the actor lazily from the request at the moment an event is written means DRF's
authentication (a staff token or a consumer key, resolved inside the view) is seen too, since
DRF copies its user onto the Django request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class Actor:
    actor_type: str
    actor_id: str
    actor: str


@dataclass(frozen=True)
class AuditContext:
    source: str
    request: HttpRequest | None = None
    actor: Actor | None = None


SYSTEM = Actor("system", "", "system")
# Outside a request or a task, the code runs from `manage.py` (a command or a shell).
_DEFAULT = AuditContext(source="command")
_current: ContextVar[AuditContext] = ContextVar("audit_context", default=_DEFAULT)


def current() -> AuditContext:
    return _current.get()


@contextlib.contextmanager
def audit_context(*, source: str, actor: Actor | None = None) -> Iterator[None]:
    """Run a block as `source` (and `actor`, default: system), e.g. a Celery task."""
    token = _current.set(AuditContext(source=source, actor=actor))
    try:
        yield
    finally:
        _current.reset(token)


def source_for_path(path: str) -> str:
    if path.startswith(settings.AUDIT_ADMIN_PATH_PREFIX):
        return "admin"
    if any(path.startswith(prefix) for prefix in settings.AUDIT_API_PATH_PREFIXES):
        return "api"
    return "web"


def actor_for_user(user: Any) -> Actor:
    """The actor behind a request's user: a staff user, a consumer key, or nobody."""
    identity = getattr(user, "identity", None)
    if identity is not None and getattr(identity, "key_id", None):
        return Actor("consumer_key", str(identity.key_id), f"consumer:{identity.name}")
    if user is not None and getattr(user, "is_authenticated", False) and user.pk is not None:
        return Actor("user", str(user.pk), user.get_username())
    return Actor("anonymous", "", "anonymous")


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Makes the current request the audit context for everything written while serving it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current.set(AuditContext(source=source_for_path(request.path), request=request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
