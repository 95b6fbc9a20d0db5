"""Django admin for the providers app, one module per model family."""

from providers.admin import catalog, provider, selection  # noqa: F401
from providers.admin import consumer_key  # noqa: F401
