"""Business days: dates in settings.BUSINESS_TIME_ZONE and the UTC instants that bound them.

Rollups, reports and schedules all cut days here, so a day means the same thing everywhere,
including the 23- and 25-hour days of a daylight-saving change.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def business_zone() -> tzinfo:
    return ZoneInfo(settings.BUSINESS_TIME_ZONE)


def business_now() -> datetime:
    return timezone.now().astimezone(business_zone())


def business_today() -> date:
    return business_now().date()


def business_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of `day` in UTC: local midnight to the next local midnight."""
    zone = business_zone()
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return start, end


def business_days(since: date, until: date) -> Iterator[date]:
    """Each date from `since` to `until`, both included."""
    for offset in range((until - since).days + 1):
        yield since + timedelta(days=offset)
