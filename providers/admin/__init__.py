"""Django admin for the providers app, one module per model family."""

from providers.admin import (  # noqa: F401
    catalog,
    consumer_key,
    group,
    provider,
    selection,
    staff_token,
)
