"""Celery tasks of the usage app: thin callers of the rollup and reconciliation services.

Every task takes ISO strings (never model instances), recomputes from the ledger so a duplicate
or retried run is harmless (acks are late: a lost worker means the task runs again), stops at a
time limit, and retries with exponential backoff when the database is briefly unavailable.
Schedules live in django-celery-beat (see `manage.py setup_schedules`).
"""

import logging
from datetime import UTC, date, datetime, timedelta

from celery import shared_task
from django.db import OperationalError

from usage import tasks_budget  # noqa: F401  (registers the budget tasks with the worker)
from usage.business_days import business_today
from usage.services.reconcile import budget_reconcile, usage_reconcile_range
from usage.services.rollup import usage_rollup_range, usage_rollup_recent

logger = logging.getLogger(__name__)

_RETRYING = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="usage.rollup_today", soft_time_limit=240, time_limit=300, **_RETRYING)
def usage_rollup_today(as_of: str | None = None) -> list[str]:
    """Every few minutes: today, and yesterday during the first hour after local midnight.
    `as_of` (an ISO datetime; UTC if it has no offset) replaces "now", for replays and tests."""
    now = datetime.fromisoformat(as_of) if as_of else None
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    days = usage_rollup_recent(now=now)
    return [day.isoformat() for day in days]


@shared_task(
    name="usage.rollup_finalize_yesterday", soft_time_limit=600, time_limit=660, **_RETRYING
)
def usage_rollup_finalize_yesterday(day: str | None = None) -> int:
    """After local midnight: the final recomputation of yesterday (or of `day`)."""
    target = date.fromisoformat(day) if day else business_today() - timedelta(days=1)
    return usage_rollup_range(since=target, until=target)


@shared_task(name="usage.rollup_days", soft_time_limit=1800, time_limit=1900, **_RETRYING)
def usage_rollup_days(since: str, until: str) -> int:
    """Recompute a range of days (an on-demand backfill)."""
    return usage_rollup_range(since=date.fromisoformat(since), until=date.fromisoformat(until))


@shared_task(name="usage.reconcile_recent", soft_time_limit=600, time_limit=660, **_RETRYING)
def usage_reconcile_recent(days: int = 3, until: str | None = None, repair: bool = True) -> int:
    """Compare the last `days` days (ending at `until`, default today) with the ledger; each
    drift is logged as a warning and, with `repair`, the drifted days are recomputed. Then
    check that every budget's current spend agrees with the ledger (drifts logged, never
    repaired: a budget is money, a person decides). Returns the number of drifts found."""
    end = date.fromisoformat(until) if until else business_today()
    start = end - timedelta(days=max(1, days) - 1)
    drifts = usage_reconcile_range(since=start, until=end, repair=repair)
    if drifts:
        logger.warning(
            "Usage reconciliation %s..%s: %d drifts", start.isoformat(), end, len(drifts)
        )
    budget_drifts = budget_reconcile()
    if budget_drifts:
        logger.warning(
            "Budget reconciliation: %d budgets disagree with the ledger", len(budget_drifts)
        )
    return len(drifts) + len(budget_drifts)
