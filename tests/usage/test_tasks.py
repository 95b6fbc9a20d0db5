"""Rollup tasks (run in-process with .apply()), the backfill command and the beat schedules."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.test import override_settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from config.celery import app
from tests.usage.records import make_record
from usage import tasks
from usage.business_days import business_today
from usage.models import DailyUsage, RollupCursor
from usage.services.rollup import usage_rollup_recent

pytestmark = pytest.mark.django_db


def test_tasks_are_registered_with_time_limits_and_retries():
    for name in (
        "usage.rollup_today",
        "usage.rollup_finalize_yesterday",
        "usage.rollup_days",
        "usage.reconcile_recent",
    ):
        task = app.tasks[name]
        assert task.soft_time_limit and task.time_limit > task.soft_time_limit
        assert OperationalError in task.autoretry_for
        assert task.retry_backoff


@override_settings(BUSINESS_TIME_ZONE="America/New_York")
def test_a_first_rollup_today_recomputes_yesterday_only_in_the_first_hour():
    make_record(created_at=datetime(2026, 3, 11, 3, 55, tzinfo=UTC))  # 23:55 on the 10th, NY
    # 00:30 on the 11th in New York: both days.
    result = tasks.usage_rollup_today.apply(args=["2026-03-11T00:30:00-04:00"]).get()
    assert result == ["2026-03-10", "2026-03-11"]
    assert DailyUsage.objects.get().day == date(2026, 3, 10)
    # The next runs add only what arrived since: nothing, then the new record's own day.
    assert usage_rollup_recent(now=datetime(2026, 3, 11, 6, 0, tzinfo=UTC)) == []
    make_record(created_at=datetime(2026, 3, 11, 3, 56, tzinfo=UTC))
    assert usage_rollup_recent() == [date(2026, 3, 10)]
    assert DailyUsage.objects.get().requests == 2
    # A first run at 02:00: only today.
    RollupCursor.objects.all().delete()
    assert usage_rollup_recent(now=datetime(2026, 3, 11, 6, 0, tzinfo=UTC)) == [date(2026, 3, 11)]


def test_a_late_record_for_yesterday_is_picked_up_by_the_next_run():
    today = business_today()
    yesterday = today - timedelta(days=1)
    noon = datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=UTC)
    make_record(created_at=noon)
    tasks.usage_rollup_finalize_yesterday.apply().get()
    make_record(created_at=noon + timedelta(hours=11))  # written late (a slow stream's record)
    tasks.usage_rollup_finalize_yesterday.apply(args=[yesterday.isoformat()]).get()
    assert DailyUsage.objects.get(day=yesterday).requests == 2


def test_running_a_task_twice_gives_the_same_rows():
    make_record(created_at=datetime(2026, 3, 10, 9, tzinfo=UTC))
    make_record(created_at=datetime(2026, 3, 11, 9, tzinfo=UTC), service="other")
    fields = ["day", "provider", "model_string", "service", "requests", "cost", "input_tokens"]
    tasks.usage_rollup_days.apply(args=["2026-03-10", "2026-03-11"]).get()
    first = list(DailyUsage.objects.order_by("day").values(*fields))
    tasks.usage_rollup_days.apply(args=["2026-03-10", "2026-03-11"]).get()
    assert list(DailyUsage.objects.order_by("day").values(*fields)) == first
    assert len(first) == 2


def test_rollup_usage_command_backfills(capsys):
    make_record(created_at=datetime(2026, 3, 9, 9, tzinfo=UTC))
    make_record(created_at=datetime(2026, 3, 11, 9, tzinfo=UTC))
    call_command("rollup_usage", "--since", "2026-03-09", "--until", "2026-03-11")
    out = capsys.readouterr()
    assert "Rolled up 3 days (2026-03-09..2026-03-11): 2 rows." in out.out
    assert "day" in out.err  # the progress bar
    assert sorted(DailyUsage.objects.values_list("day", flat=True)) == [
        date(2026, 3, 9),
        date(2026, 3, 11),
    ]
    with pytest.raises(CommandError):
        call_command("rollup_usage", "--since", "2026-03-12", "--until", "2026-03-11")
    with pytest.raises(CommandError):
        call_command("rollup_usage", "--since", "tomorrow")
    with pytest.raises(CommandError, match=r"outside 1970-01-01\.\.9999-12-30"):
        call_command("rollup_usage", "--since", "2026-03-09", "--until", "9999-12-31")


@override_settings(BUSINESS_TIME_ZONE="Europe/Paris")
def test_setup_schedules_is_idempotent_and_keeps_staff_edits():
    call_command("setup_schedules")
    tasks_by_name = {t.name: t for t in PeriodicTask.objects.all()}
    assert {t.task for t in tasks_by_name.values()} >= {
        "usage.rollup_today",
        "usage.rollup_finalize_yesterday",
        "usage.reconcile_recent",
    }
    today = tasks_by_name["usage: roll up today"]
    assert (today.interval.every, today.interval.period) == (5, IntervalSchedule.MINUTES)
    finalize = tasks_by_name["usage: finalize yesterday"]
    assert str(finalize.crontab.timezone) == "Europe/Paris"
    assert finalize.crontab.hour == "0"
    app.loader.import_default_modules()  # what a worker loads: every app's tasks module
    for name in tasks_by_name:  # every task name resolves to a registered task
        assert tasks_by_name[name].task in app.tasks

    # A staff member moves the finalize run and disables the frequent one.
    finalize.crontab = CrontabSchedule.objects.create(minute="5", hour="2", timezone="UTC")
    finalize.save()
    today.enabled = False
    today.save()
    call_command("setup_schedules")

    assert PeriodicTask.objects.count() == len(tasks_by_name)
    assert PeriodicTask.objects.get(name="usage: finalize yesterday").crontab.hour == "2"
    assert PeriodicTask.objects.get(name="usage: roll up today").enabled is False
