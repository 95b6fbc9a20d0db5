"""The one way an audit event is written, and retention.

Every tracked write path ends here (through the signal handlers in `tracking.py`, or directly
for events that are not model saves: sign-ins, lockouts, second-factor enrolment).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from config.audit.context import SYSTEM, Actor, actor_for_user, client_ip, current
from config.audit.models import AuditEvent


def audit_event_record(
    *,
    action: str,
    object_type: str,
    object_id: Any = "",
    object_repr: str = "",
    changes: dict[str, Any] | None = None,
    actor: Actor | None = None,
    user: Any = None,
    request: Any = None,
) -> AuditEvent:
    """Append one event. Who, whence and the address come from the current context unless
    given: `user` names the person explicitly (a failed sign-in names who was tried), and
    `request` stands in for the context's request (sign-in signals carry theirs)."""
    ctx = current()
    request = request if request is not None else ctx.request
    if actor is None:
        if user is not None:
            actor = actor_for_user(user)
        elif ctx.actor is not None:
            actor = ctx.actor
        elif request is not None:
            actor = actor_for_user(getattr(request, "user", None))
        else:
            actor = SYSTEM
    return AuditEvent.objects.create(
        actor_type=actor.actor_type,
        actor_id=actor.actor_id,
        actor=actor.actor[:200],
        source=ctx.source,
        ip=client_ip(request),
        object_type=object_type,
        object_id=str(object_id if object_id is not None else "")[:100],
        object_repr=object_repr[:200],
        action=action,
        changes=changes or {},
    )


def audit_events_purge() -> int:
    """Drop events older than AUDIT_RETENTION_DAYS (0 keeps everything); returns the count."""
    days = settings.AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    return AuditEvent.objects.purge_before(timezone.now() - timedelta(days=days))
