"""Budgets: a spending limit per scope and period, the per-period ledger rows, holds and alerts.

The period row (BudgetPeriod) is the unit of locking: every reserve and settle takes a row lock
on the current-period rows of the budgets it touches, so concurrent calls are serialised per
budget without a global lock. See usage/budgets.py for the protocol.
"""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class ScopeType(models.TextChoices):
    GLOBAL = "global", "global (every call)"
    SERVICE = "service", "service"
    PROVIDER = "provider", "provider"
    CONSUMER_KEY = "consumer_key", "consumer API key"
    USER = "user", "user"
    TAG = "tag", "tag (calls carrying it)"


class Period(models.TextChoices):
    DAILY = "daily", "daily"
    MONTHLY = "monthly", "monthly"


def default_thresholds() -> list[int]:
    return [50, 80, 100]


def scope_value_validate(scope_type: str, scope_value: str) -> None:
    """Shared by Budget and RateLimit: the value must name something of the scope's kind."""
    from providers.models import ConsumerAPIKey

    if scope_type == ScopeType.GLOBAL:
        if scope_value:
            raise ValidationError({"scope_value": "A global scope takes no value."})
        return
    if not scope_value:
        raise ValidationError({"scope_value": "This scope needs a value."})
    if scope_type == ScopeType.CONSUMER_KEY:
        if not ConsumerAPIKey.objects.filter(pk=scope_value).exists():
            raise ValidationError({"scope_value": "No consumer API key has this id."})
    elif scope_type == ScopeType.USER:
        user_model = get_user_model()
        if not scope_value.isdigit() or not user_model.objects.filter(pk=scope_value).exists():
            raise ValidationError({"scope_value": "No user has this id."})
    elif scope_type == ScopeType.TAG:
        from usage.attribution import tag_problem

        problem = tag_problem(scope_value)
        if problem:
            raise ValidationError({"scope_value": problem})


class Budget(models.Model):
    name = models.CharField(max_length=100, unique=True)
    scope_type = models.CharField(max_length=16, choices=ScopeType.choices)
    scope_value = models.CharField(
        max_length=200,
        blank=True,
        default="",
        help_text="Service name, provider slug, consumer API key id, user id or tag "
        "(e.g. feature:search); empty for global.",
    )
    period = models.CharField(
        max_length=8,
        choices=Period.choices,
        default=Period.MONTHLY,
        help_text="Cut in the business time zone (settings.BUSINESS_TIME_ZONE).",
    )
    limit_usd = models.DecimalField(
        max_digits=14, decimal_places=4, validators=[MinValueValidator(Decimal("0"))]
    )
    alert_thresholds = models.JSONField(
        default=default_thresholds,
        blank=True,
        help_text="Percents of the limit that send one alert email per period, e.g. [50, 80, 100].",
    )
    hard = models.BooleanField(
        default=True, help_text="Hard budgets refuse calls (HTTP 429); soft ones only alert."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_label(self) -> str:
        if self.scope_type == ScopeType.GLOBAL:
            return "global"
        return f"{self.scope_type}:{self.scope_value}"

    def clean(self) -> None:
        scope_value_validate(self.scope_type, self.scope_value)
        thresholds = self.alert_thresholds
        if not isinstance(thresholds, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) and 0 < t <= 1000 for t in thresholds
        ):
            raise ValidationError(
                {"alert_thresholds": "A list of whole percents between 1 and 1000."}
            )
        self.alert_thresholds = sorted(set(thresholds))


class BudgetPeriod(models.Model):
    """Spend and outstanding holds of one budget in one period; the row that gets locked."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="periods")
    period_start = models.DateField(help_text="First day of the period, business time zone")
    spent = models.DecimalField(max_digits=20, decimal_places=10, default=Decimal("0"))
    reserved = models.DecimalField(max_digits=20, decimal_places=10, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["budget", "period_start"], name="budget_period_unique")
        ]
        ordering = ["-period_start", "budget_id"]

    def __str__(self) -> str:
        return f"{self.budget_id} from {self.period_start}"


class BudgetHold(models.Model):
    """Money held by one reservation on one period row; deleted when the call settles."""

    reservation_id = models.CharField(max_length=36, db_index=True)
    period = models.ForeignKey(BudgetPeriod, on_delete=models.CASCADE, related_name="holds")
    amount = models.DecimalField(max_digits=20, decimal_places=10)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reservation_id", "period"], name="budget_hold_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reservation_id} {self.amount}"


class BudgetAlert(models.Model):
    """One threshold crossed by one budget in one period: unique, so it is emailed once."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_start = models.DateField()
    threshold = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(1000)], help_text="Percent of the limit"
    )
    spent = models.DecimalField(max_digits=20, decimal_places=10, help_text="Spend at crossing")
    limit_usd = models.DecimalField(max_digits=14, decimal_places=4)
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "period_start", "threshold"], name="budget_alert_unique"
            )
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.budget_id} {self.period_start} {self.threshold}%"


__all__ = [
    "Budget",
    "BudgetAlert",
    "BudgetHold",
    "BudgetPeriod",
    "Period",
    "ScopeType",
    "default_thresholds",
    "scope_value_validate",
]
