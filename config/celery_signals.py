"""Celery signal receivers: logs, the request id across the broker, task metrics, traces.

- Workers install their own log handlers (worker_hijack_root_logger): they get the redaction
  filter like the web's, and the JSON formatter when LOG_FORMAT is json.
- A task queued while serving a request carries that request's id in a message header
  (`x_request_id`); the worker makes it current while the task runs, so the task's log lines
  (and any provider call it makes) carry it. A task with no such header (beat's) runs under
  its own Celery task id.
- Beat says when it is ready: its scheduler has loaded (the database scheduler has written its
  default entries), which `beat: Starting...` precedes.
- Worker processes count tasks into the shared PROMETHEUS_MULTIPROC_DIR (config/metrics_dir.py;
  set it for the worker, to the web's directory on the same host, and `/metrics` includes it).
"""

import logging
import os
import time
from typing import Any

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    before_task_publish,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_shutdown,
)

from config import request_context
from config.logging import redact_handlers

HEADER = "x_request_id"
_running: dict[str, tuple[Any, float]] = {}  # task id -> (context token, start time)


def _format_handlers(logger: logging.Logger, **kwargs: Any) -> None:
    redact_handlers(logger, **kwargs)
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        from config.log_format import JsonFormatter

        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())


after_setup_logger.connect(_format_handlers, weak=False)
after_setup_task_logger.connect(_format_handlers, weak=False)


@beat_init.connect(weak=False)
def _beat_ready(sender: Any = None, **kwargs: Any) -> None:
    scheduler = getattr(sender, "scheduler", None)  # built before beat_init is sent
    logging.getLogger(__name__).info("beat: ready (%s)", type(scheduler).__name__)


@before_task_publish.connect(weak=False)
def _publish_request_id(headers: dict | None = None, **kwargs: Any) -> None:
    request_id = request_context.current_request_id()
    if request_id and headers is not None:
        headers.setdefault(HEADER, request_id)


def _task_request_id(task: Any) -> str | None:
    request = task.request
    value = getattr(request, HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(HEADER)
    return value if isinstance(value, str) else None


@task_prerun.connect(weak=False)
def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    request_id = (_task_request_id(task) if task is not None else None) or task_id
    token = request_context.request_id_set(request_id)
    _running[task_id or ""] = (token, time.perf_counter())


@task_postrun.connect(weak=False)
def _task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any
) -> None:
    token, started = _running.pop(task_id or "", (None, None))
    if token is not None:
        request_context.request_id_reset(token)
    if task is not None and started is not None:
        from config import metrics

        metrics.task_observed(task.name, state or "UNKNOWN", time.perf_counter() - started)


@worker_init.connect(weak=False)
def _worker_started(**kwargs: Any) -> None:
    from config import metrics_dir, tracing

    if os.environ.get(metrics_dir.ENV):
        metrics_dir.prepare()
    # Pool processes forked from here inherit it: the SDK restarts its export thread after a fork.
    tracing.tracing_configure()


@worker_process_shutdown.connect(weak=False)
def _pool_process_stopped(pid: int | None = None, **kwargs: Any) -> None:
    from config import metrics_dir

    metrics_dir.process_exited(pid or os.getpid())
