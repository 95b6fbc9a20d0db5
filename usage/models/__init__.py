"""Models of the usage app, one module per concern."""

from usage.models.budget import Budget, BudgetAlert, BudgetHold, BudgetPeriod
from usage.models.cursor import RollupCursor
from usage.models.daily import DailyTagUsage, DailyUsage
from usage.models.ratelimit import RateLimit
from usage.models.record import Outcome, UsageRecord

__all__ = [
    "Budget",
    "BudgetAlert",
    "BudgetHold",
    "BudgetPeriod",
    "DailyTagUsage",
    "DailyUsage",
    "Outcome",
    "RateLimit",
    "RollupCursor",
    "UsageRecord",
]
