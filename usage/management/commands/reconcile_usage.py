"""`manage.py reconcile_usage --since D --until D`: report where DailyUsage drifts from the
ledger; exits non-zero when anything drifted, so it can gate a cron job or a deploy."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from usage.business_days import business_days
from usage.management.commands.rollup_usage import checked_range, iso_date
from usage.services.reconcile import usage_reconcile_day


class Command(BaseCommand):
    help = (
        "Compare daily usage with the sums of the usage records, day by day, and print every "
        "drift (requests, errors, each token bucket, cost, unpriced calls)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--since", type=iso_date, required=True, help="YYYY-MM-DD")
        parser.add_argument("--until", type=iso_date, help="YYYY-MM-DD (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        since, until = checked_range(options)
        count = 0
        for day in business_days(since, until):
            for drift in usage_reconcile_day(day=day):
                count += 1
                self.stdout.write(str(drift))
        if count:
            raise CommandError(
                f"{count} drifts between {since} and {until}; "
                f"`manage.py rollup_usage --since {since} --until {until}` recomputes them."
            )
        self.stdout.write(self.style.SUCCESS(f"No drift between {since} and {until}."))
