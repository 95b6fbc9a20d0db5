"""Project configuration: settings, URLs, the API error handling and the Celery app.

The Celery app (config/celery.py) is not imported with the package, as Django's usual recipe
has it: no web request publishes a task, and importing Celery cost every process ~0.2 s of
start-up (`manage.py` commands, gunicorn workers). Celery's own processes load it
(`celery -A config` finds config.celery), and so do the few places that use it in another
process: the admin's schedules (config/audit/beat_admin.py) and the readiness check.
"""
