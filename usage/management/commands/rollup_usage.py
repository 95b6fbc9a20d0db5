"""`manage.py rollup_usage --since D --until D`: recompute DailyUsage for a range of days."""

from argparse import ArgumentParser, ArgumentTypeError
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from usage.business_days import business_days, business_today
from usage.services.rollup import usage_rollup_day

EARLIEST, LATEST = date(1970, 1, 1), date(9999, 12, 30)  # a day's end must still be a date


def iso_date(value: str) -> date:
    """An argparse type: YYYY-MM-DD within the supported range, with a clear message otherwise."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None
    if not EARLIEST <= day <= LATEST:
        raise ArgumentTypeError(f"{value} is outside {EARLIEST}..{LATEST}")
    return day


def checked_range(options: dict[str, Any]) -> tuple[date, date]:
    since, until = options["since"], options["until"] or business_today()
    if since > until:
        raise CommandError(f"--since {since} is after --until {until}.")
    return since, until


class Command(BaseCommand):
    help = (
        "Recompute daily usage from the usage records for each day from --since to --until "
        "(both included, in BUSINESS_TIME_ZONE); safe to run again."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--since", type=iso_date, required=True, help="YYYY-MM-DD")
        parser.add_argument("--until", type=iso_date, help="YYYY-MM-DD (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        since, until = checked_range(options)
        days = list(business_days(since, until))
        rows = 0
        with tqdm(days, unit="day", file=self.stderr, disable=options["verbosity"] == 0) as bar:
            for day in bar:
                bar.set_postfix_str(day.isoformat())
                rows += usage_rollup_day(day=day)
        self.stdout.write(f"Rolled up {len(days)} days ({since}..{until}): {rows} rows.")
