"""Models of the usage app, one module per concern."""

from usage.models.record import Outcome, UsageRecord

__all__ = ["Outcome", "UsageRecord"]
