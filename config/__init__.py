"""Project configuration: settings, URLs, the Celery app and the API error handling."""

from config.celery import app as celery_app

__all__ = ("celery_app",)
