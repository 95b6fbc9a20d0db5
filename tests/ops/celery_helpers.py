"""A Celery worker thread on an in-memory broker, leaving no trace on the test process.

celery.contrib.testing's worker makes its app the current and default one and sets logging
up for a worker (root handlers replaced, stdout redirected): all of it is undone on exit, so
later tests still queue to the project's app and log as configured."""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery
from celery.contrib.testing.worker import start_worker

from config.celery import app as project_app


@contextmanager
def worker_thread(app: Celery) -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stdout, stderr = sys.stdout, sys.stderr
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        root.handlers[:] = handlers
        root.setLevel(level)
        project_app.set_current()
        project_app.set_default()


def memory_app(name: str) -> Celery:
    return Celery(name, broker="memory://", backend="cache+memory://")
