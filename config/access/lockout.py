"""Sign-in lockout (django-axes): failures per user and address; administrators unlock."""

from axes.utils import reset

from config.audit.models import Action
from config.audit.services import audit_event_record


def signin_unlock(*, username: str = "", ip: str = "") -> int:
    """Clear the failed attempts of a user (or an address); returns the records cleared."""
    cleared = reset(username=username or None, ip=ip or None)
    audit_event_record(
        action=Action.UNLOCK,
        object_type="auth.user" if username else "axes.accessattempt",
        object_id=username or ip,
        object_repr=username or ip,
        changes={"cleared_attempts": {"after": cleared}},
    )
    return cleared
