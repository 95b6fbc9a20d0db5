"""`manage.py setup_schedules`: create the periodic tasks (usage, audit, request logs) in beat.

Idempotent and respectful of staff: a schedule that already exists (found by name) keeps the
timing, arguments and enabled flag someone may have edited in admin; only a missing one is
created. `make run` calls this after `migrate`.
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    description: str
    every_minutes: int | None = None  # an interval schedule, or
    crontab: dict[str, str] = field(default_factory=dict)  # a crontab in BUSINESS_TIME_ZONE


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        name="usage: roll up today",
        task="usage.rollup_today",
        description="Recompute today's daily usage (and yesterday's just after midnight).",
        every_minutes=5,
    ),
    Schedule(
        name="usage: finalize yesterday",
        task="usage.rollup_finalize_yesterday",
        description="The final recomputation of yesterday, after local midnight.",
        crontab={"minute": "20", "hour": "0"},
    ),
    Schedule(
        name="usage: reconcile recent days",
        task="usage.reconcile_recent",
        description="Compare the last days' rollups with the ledger; log and repair drift.",
        crontab={"minute": "40", "hour": "1"},
    ),
    Schedule(
        name="usage: release stale budget reservations",
        task="usage.budget_reservations_release_stale",
        description="Free budget holds left by callers that died between reserve and settle.",
        every_minutes=5,
    ),
    Schedule(
        name="usage: send pending budget alerts",
        task="usage.budget_alerts_send_pending",
        description="Retry budget alert emails that failed or had no recipients.",
        every_minutes=10,
    ),
    Schedule(
        name="chat: delete expired request logs",
        task="chat.request_logs_delete_expired",
        description="Delete request logs kept past their service's request_log_days.",
        every_minutes=60,
    ),
    Schedule(
        name="audit: apply retention",
        task="audit.retention_apply",
        description="Delete audit events older than AUDIT_RETENTION_DAYS.",
        crontab={"minute": "50", "hour": "2"},
    ),
    Schedule(
        name="responses: apply retention",
        task="chat.responses_purge_expired",
        description="Delete stored /v1/responses older than RESPONSES_RETENTION_DAYS.",
        crontab={"minute": "10", "hour": "3"},
    ),
)


def _interval(minutes: int) -> IntervalSchedule:
    found = IntervalSchedule.objects.filter(every=minutes, period=IntervalSchedule.MINUTES).first()
    return found or IntervalSchedule.objects.create(every=minutes, period=IntervalSchedule.MINUTES)


def _crontab(spec: dict[str, str]) -> CrontabSchedule:
    values = {
        "minute": "*",
        "hour": "*",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        **spec,
        "timezone": settings.BUSINESS_TIME_ZONE,
    }
    return CrontabSchedule.objects.filter(**values).first() or CrontabSchedule.objects.create(
        **values
    )


class Command(BaseCommand):
    help = "Create the usage rollup, reconciliation and budget schedules (existing ones are kept)."

    def handle(self, *args: Any, **options: Any) -> None:
        for schedule in SCHEDULES:
            with transaction.atomic():
                if PeriodicTask.objects.filter(name=schedule.name).exists():
                    self.stdout.write(f"kept    {schedule.name}")
                    continue
                timing: dict[str, Any] = (
                    {"interval": _interval(schedule.every_minutes)}
                    if schedule.every_minutes
                    else {"crontab": _crontab(schedule.crontab)}
                )
                PeriodicTask.objects.create(
                    name=schedule.name,
                    task=schedule.task,
                    description=schedule.description,
                    **timing,
                )
                self.stdout.write(f"created {schedule.name}")
