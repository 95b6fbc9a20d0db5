"""Django admin for the providers app, one module per model family."""

from providers.admin import provider  # noqa: F401
