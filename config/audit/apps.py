"""The audit trail: one append-only table of configuration changes and sign-ins.

It lives on the ground floor (`config/`) so that every app's writes are recorded without any
app importing it: models are tracked by label (settings.AUDIT_MODELS) through Django's signals,
so the admin, the API, commands and tasks are covered whatever write path they take.
"""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "config.audit"
    label = "audit"
    verbose_name = "Audit trail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config.audit import tracking

        tracking.connect()
