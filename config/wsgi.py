"""WSGI entry point."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

from config.tracing import tracing_configure

tracing_configure()  # before the middleware loads: Django's instrumentation adds its own
application = get_wsgi_application()
