"""Retention of stored /v1/responses, run daily by Celery beat (`manage.py setup_schedules`)."""

import logging

from celery import shared_task

from chat.responses_api.services import stored_responses_purge

logger = logging.getLogger(__name__)


@shared_task(name="chat.responses_purge_expired", soft_time_limit=600, time_limit=660)
def responses_purge_expired() -> int:
    """Delete stored responses past RESPONSES_RETENTION_DAYS; safe to run twice."""
    removed = stored_responses_purge()
    logger.info("Responses retention removed %d stored responses", removed)
    return removed
