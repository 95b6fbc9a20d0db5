"""Celery tasks for budgets: thin callers of usage.budgets and usage.alerts, safe to run twice.

Not found by autodiscovery (which imports `usage.tasks` only): usage/tasks.py imports this
module so the worker registers these tasks.
"""

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError

from usage.alerts import budget_alerts_send_pending
from usage.budgets import budget_reservations_release_stale


@shared_task(
    name="usage.budget_reservations_release_stale",
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def budget_reservations_release_stale_task(older_than_minutes: int = 15) -> int:
    """Release holds left by callers that crashed between reserve and settle."""
    return budget_reservations_release_stale(older_than=timedelta(minutes=older_than_minutes))


@shared_task(
    name="usage.budget_alerts_send_pending",
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def budget_alerts_send_pending_task() -> int:
    """Retry alert emails that failed or found no recipients."""
    return budget_alerts_send_pending()
