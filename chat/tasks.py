"""Retention of stored /v1/responses (daily) and request logs (hourly), run by Celery beat
(`manage.py setup_schedules`)."""

import logging

from celery import shared_task

from chat.request_logs import request_logs_delete_expired
from chat.responses_api.services import stored_responses_purge

logger = logging.getLogger(__name__)


@shared_task(name="chat.responses_purge_expired", soft_time_limit=600, time_limit=660)
def responses_purge_expired() -> int:
    """Delete stored responses past RESPONSES_RETENTION_DAYS; safe to run twice."""
    removed = stored_responses_purge()
    logger.info("Responses retention removed %d stored responses", removed)
    return removed


@shared_task(name="chat.request_logs_delete_expired", soft_time_limit=600, time_limit=660)
def request_logs_expired_delete() -> int:
    """Delete the request logs past their expiry; safe to run twice."""
    removed = request_logs_delete_expired()
    logger.info("Request log retention removed %d logs", removed)
    return removed
