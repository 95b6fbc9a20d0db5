"""The Celery application; its settings come from Django settings under the CELERY_ prefix.

Operations wiring (config/celery_signals.py): worker logs redacted (and JSON when LOG_FORMAT is
json), the request id carried from the publishing request into its tasks, tasks counted in the
shared Prometheus directory, traces when TRACING_ENABLED.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("control_plane")
# The default app of every thread (Celery's `current_app`, which libraries such as
# django-celery-beat's admin use), even where Celery's fallback app was made before this module
# was imported (config/__init__.py does not import it).
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from config import celery_signals  # noqa: E402,F401 - connects the signal receivers
