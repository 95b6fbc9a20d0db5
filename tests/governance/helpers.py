"""Helpers of the governance tests: role members, clients, and reading audit events."""

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from config.audit.models import AuditEvent


def member(username: str, role: str | None, **fields):
    """A staff user in `role` (a group name), or a staff user with no role when None."""
    user = get_user_model().objects.create_user(
        username=username, password=f"pw-{username}-Long-9", is_staff=True, **fields
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return get_user_model().objects.get(pk=user.pk)


def events(object_type: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=object_type, **filters).order_by("id"))


def only_event(object_type: str, **filters) -> AuditEvent:
    found = events(object_type, **filters)
    assert len(found) == 1, [(e.action, e.changes) for e in found]
    return found[0]


def event_text(event: AuditEvent) -> str:
    return json.dumps(
        {f.name: str(getattr(event, f.name)) for f in AuditEvent._meta.fields}
        | {"changes": event.changes}
    )
