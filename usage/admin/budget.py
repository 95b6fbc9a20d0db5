"""Admin for budgets (with the current period's spend), rate limits and budget alerts."""

from decimal import Decimal

from django.contrib import admin
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone

from usage.budgets import budget_period_bounds
from usage.models import Budget, BudgetAlert, BudgetPeriod, RateLimit
from usage.models.budget import Period


def _current_periods() -> QuerySet[BudgetPeriod]:
    """The current-period row of the outer budget, whichever its period type."""
    now = timezone.now()
    daily, _ = budget_period_bounds(period=Period.DAILY, at=now)
    monthly, _ = budget_period_bounds(period=Period.MONTHLY, at=now)
    return BudgetPeriod.objects.filter(budget=OuterRef("pk")).filter(
        Q(budget__period=Period.DAILY, period_start=daily)
        | Q(budget__period=Period.MONTHLY, period_start=monthly)
    )


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "scope",
        "period",
        "limit_usd",
        "hard",
        "active",
        "current_spent",
        "current_reserved",
        "current_percent",
    ]
    list_filter = ["period", "hard", "active", "scope_type"]
    search_fields = ["name", "scope_value"]
    fields = [
        "name",
        ("scope_type", "scope_value"),
        "period",
        "limit_usd",
        "hard",
        "alert_thresholds",
        "active",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Budget]:
        current = _current_periods()
        return (
            super()
            .get_queryset(request)
            .annotate(
                _spent=Subquery(current.values("spent")[:1]),
                _reserved=Subquery(current.values("reserved")[:1]),
            )
        )

    @admin.display(description="scope", ordering="scope_type")
    def scope(self, obj: Budget) -> str:
        return obj.scope_label

    @admin.display(description="spent this period (USD)")
    def current_spent(self, obj: Budget) -> Decimal:
        return (getattr(obj, "_spent", None) or Decimal("0")).quantize(Decimal("0.0001"))

    @admin.display(description="reserved (USD)")
    def current_reserved(self, obj: Budget) -> Decimal:
        return (getattr(obj, "_reserved", None) or Decimal("0")).quantize(Decimal("0.0001"))

    @admin.display(description="% of limit")
    def current_percent(self, obj: Budget) -> str:
        spent = getattr(obj, "_spent", None) or Decimal("0")
        if obj.limit_usd <= 0:
            return "-"
        return f"{spent * 100 / obj.limit_usd:.1f} %"


@admin.register(RateLimit)
class RateLimitAdmin(admin.ModelAdmin):
    list_display = [
        "scope_type",
        "scope_value",
        "requests_per_minute",
        "tokens_per_minute",
        "active",
    ]
    list_filter = ["scope_type", "active"]
    search_fields = ["scope_value"]


@admin.register(BudgetAlert)
class BudgetAlertAdmin(admin.ModelAdmin):
    """Read-only: alerts are written by settlement, never by hand."""

    list_display = [
        "created_at",
        "budget",
        "period_start",
        "threshold",
        "spent",
        "limit_usd",
        "emailed_at",
    ]
    list_filter = ["threshold", "budget"]
    date_hierarchy = "created_at"
    list_select_related = ["budget"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BudgetAlert | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: BudgetAlert | None = None) -> bool:
        return False
