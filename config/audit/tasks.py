"""Retention of the audit trail, run daily by Celery beat (`manage.py setup_schedules`)."""

import logging

from celery import shared_task

from config.audit.services import audit_events_purge

logger = logging.getLogger(__name__)


@shared_task(name="audit.retention_apply", soft_time_limit=600, time_limit=660)
def audit_retention_apply() -> int:
    """Delete events older than AUDIT_RETENTION_DAYS; safe to run twice."""
    removed = audit_events_purge()
    logger.info("Audit retention removed %d events", removed)
    return removed
