"""Django admin for the usage app, one module per model family."""

from usage.admin import (  # noqa: F401
    budget,
    dashboard,
    record,
)
