"""Django admin for the usage app, one module per model family."""
