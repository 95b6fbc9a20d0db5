"""Budget alerts: one entry and one email per budget, period and threshold crossed.

budget_alerts_record() runs inside the settle transaction while the period row is locked, so
the crossing `spent_before < threshold <= spent_after` is seen by exactly one settle; the
unique constraint on (budget, period, threshold) backs this up should a limit be edited
mid-period. The email goes out after commit (never for a rolled-back spend) and is claimed by
setting `emailed_at` first, so neither a concurrent sender nor a retry can send it twice.
"""

import logging
import smtplib
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from usage.models import Budget, BudgetAlert

logger = logging.getLogger(__name__)


def budget_alerts_record(
    *, budget: Budget, period_start: date, spent_before: Decimal, spent_after: Decimal
) -> list[BudgetAlert]:
    """Create an alert for each threshold this spend crossed; email each after commit."""
    limit = budget.limit_usd
    if limit <= 0:
        return []
    created = []
    for threshold in sorted(set(budget.alert_thresholds or ())):
        line = limit * Decimal(threshold) / 100
        if not spent_before < line <= spent_after:
            continue
        try:
            with transaction.atomic():
                alert = BudgetAlert.objects.create(
                    budget=budget,
                    period_start=period_start,
                    threshold=threshold,
                    spent=spent_after,
                    limit_usd=limit,
                )
        except IntegrityError:  # already alerted this period
            continue
        created.append(alert)
        transaction.on_commit(partial(budget_alert_send, alert_id=alert.id))
    return created


def budget_alert_recipients() -> list[str]:
    """settings.BUDGET_ALERT_EMAILS, else the addresses of active superusers."""
    if settings.BUDGET_ALERT_EMAILS:
        return list(settings.BUDGET_ALERT_EMAILS)
    return sorted(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )


def budget_alert_send(*, alert_id: int) -> bool:
    """Email one alert unless it was already sent; returns whether this call sent it."""
    claimed = BudgetAlert.objects.filter(id=alert_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return False
    alert = BudgetAlert.objects.select_related("budget").get(id=alert_id)
    recipients = budget_alert_recipients()
    if not recipients:
        logger.warning("Budget alert %s has no recipients: set BUDGET_ALERT_EMAILS", alert_id)
        BudgetAlert.objects.filter(id=alert_id).update(emailed_at=None)
        return False
    budget = alert.budget
    subject = f"Budget {budget.name!r} reached {alert.threshold}% of its {budget.period} limit"
    body = (
        f"Budget: {budget.name} ({budget.scope_label}, {'hard' if budget.hard else 'soft'})\n"
        f"Period starting: {alert.period_start.isoformat()}\n"
        f"Spent: {alert.spent.normalize():f} USD of {alert.limit_usd.normalize():f} USD "
        f"({alert.threshold}% threshold crossed)\n"
    )
    try:
        send_mail(subject, body, None, recipients)
    except (smtplib.SMTPException, OSError):
        logger.exception("Budget alert %s could not be emailed; it will be retried", alert_id)
        BudgetAlert.objects.filter(id=alert_id).update(emailed_at=None)
        return False
    BudgetAlert.objects.filter(id=alert_id).update(recipients=recipients)
    return True


def budget_alerts_send_pending(*, max_age: timedelta = timedelta(days=2)) -> int:
    """Retry alerts whose email failed or had no recipients; returns how many were sent."""
    since = timezone.now() - max_age
    pending = BudgetAlert.objects.filter(emailed_at__isnull=True, created_at__gte=since)
    return sum(budget_alert_send(alert_id=pk) for pk in pending.values_list("id", flat=True))
