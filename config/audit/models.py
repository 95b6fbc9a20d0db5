"""AuditEvent: one row per change or sign-in, never updated, never deleted but by retention."""

from typing import Any

from django.db import models
from django.utils import timezone


class AuditAppendOnlyError(Exception):
    """Raised by any attempt to change or delete an audit event outside retention."""


class ActorType(models.TextChoices):
    USER = "user", "User"
    CONSUMER_KEY = "consumer_key", "Consumer key"
    SYSTEM = "system", "System"
    ANONYMOUS = "anonymous", "Anonymous"


class Source(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    WEB = "web", "Web"
    COMMAND = "command", "Command"
    TASK = "task", "Task"


class Action(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    REVOKE = "revoke", "Revoked"
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    SIGN_OUT = "sign_out", "Signed out"
    LOCKED_OUT = "locked_out", "Locked out"
    UNLOCK = "unlock", "Unlocked"
    MFA_ENROLLED = "mfa_enrolled", "Second factor enrolled"
    MFA_RESET = "mfa_reset", "Second factor reset"
    RECOVERY_CODES = "recovery_codes", "Recovery codes generated"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Bulk updates and deletes are refused; retention goes through `purge_before`."""

    def update(self, **kwargs: Any) -> int:
        raise AuditAppendOnlyError("Audit events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditAppendOnlyError("Audit events cannot be deleted.")

    def purge_before(self, cutoff: Any) -> int:
        """Retention only: drop events older than `cutoff` in one statement."""
        stale = self.model.objects.filter(at__lt=cutoff)
        return stale._raw_delete(stale.db)


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # The user's or key's id and a readable name, kept as text so that deleting a user never
    # rewrites (SET_NULL) the events that name them.
    actor_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    actor = models.CharField(max_length=200, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    object_type = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    object_repr = models.CharField(max_length=200, blank=True, default="")
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    # {"field": {"before": x, "after": y}}; secrets as {"field": {"secret": "changed"}};
    # relations as {"field": {"added": [...], "removed": [...]}}.
    changes = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        default_permissions = ("view",)
        verbose_name = "audit event"
        indexes = [models.Index(fields=["object_type", "object_id", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditAppendOnlyError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditAppendOnlyError("Audit events cannot be deleted.")
