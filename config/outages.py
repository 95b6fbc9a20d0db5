"""Backing services failing: which errors mean "the shared cache (Redis) or the database is
unavailable", and the one way they reach a caller, as ServiceUnavailable (503, Retry-After).

Why one place: such an error is an outage to retry, not a bug in the request, so neither API
may answer it with a 500, and the in-process service API must not hand project code a raw
redis or psycopg exception either. The original text names hosts, ports, databases and users:
it is logged for operators (with the traceback) and never put in what the caller sees.
"""

import logging
import sys
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.core.signals import request_started
from django.db import InterfaceError, OperationalError

from config.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Django's wrappers of the driver's errors: no connection, a connection lost or closed, an
# administrator shutdown, a statement timeout, a serialization failure.
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def unavailable_errors() -> tuple[type[Exception], ...]:
    """The errors of a backing service that is down, for `except` clauses and isinstance
    (evaluated only when an exception is raised): the database's, and Redis refusing,
    resetting, timing out, still loading its data set (BusyLoadingError is a ConnectionError)
    or, a replica promoted in a failover, still refusing writes. Redis's once redis-py is
    loaded (none can be raised before): naming its classes at import would load redis-py,
    ~0.13 s, into every process's start-up."""
    redis = sys.modules.get("redis")
    if redis is None:
        return DATABASE_UNAVAILABLE_ERRORS
    errors = redis.exceptions
    cache = (errors.ConnectionError, errors.TimeoutError, errors.ReadOnlyError)
    return (*cache, errors.OutOfMemoryError, *DATABASE_UNAVAILABLE_ERRORS)


# (logger name, exception type) -> when its traceback was last logged (time.monotonic()).
_tracebacks_logged: dict[tuple[str, type], float] = {}
_tracebacks_lock = threading.Lock()


def _traceback_due(log: logging.Logger, exc: BaseException) -> bool:
    """Whether this logger may log a traceback of this exception type now: at most once per
    RUNTIME_OUTAGE_TRACEBACK_INTERVAL_SECONDS per process."""
    key = (log.name, type(exc))
    now = time.monotonic()
    with _tracebacks_lock:
        last = _tracebacks_logged.get(key)
        if last is not None and now - last < settings.RUNTIME_OUTAGE_TRACEBACK_INTERVAL_SECONDS:
            return False
        _tracebacks_logged[key] = now
        return True


def outage_tracebacks_forget() -> None:
    """Forget which tracebacks were logged (each test starts as a fresh process would)."""
    with _tracebacks_lock:
        _tracebacks_logged.clear()


def outage_log(
    log: logging.Logger, level: int, message: str, *args: object, exc: BaseException
) -> None:
    """Log one line for a request hit by an outage; the traceback only once per interval, so
    an outage under load costs a line per request, not a traceback per request."""
    log.log(level, message, *args, exc_info=exc if _traceback_due(log, exc) else None)


# Whether this thread's current request already logged its outage line (see
# OutageRequestLineFilter).
_request_state = threading.local()


def _request_begins(**kwargs: object) -> None:
    _request_state.logged = False


request_started.connect(_request_begins, dispatch_uid="config.outages.request_begins")


class OutageRequestLineFilter(logging.Filter):
    """On the `django.request` logger: drop the "Service Unavailable: /path" line of a request
    whose outage `unavailable` has already logged, so a refused request logs one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_request_state, "logged", False):
            _request_state.logged = False
            return getattr(record, "status_code", None) != 503
        return True


def unavailable(exc: BaseException) -> ServiceUnavailable:
    """The ServiceUnavailable to raise (`from exc`) for a backing-service error, logged here
    (one line; the traceback at most once per interval); the message names only the
    exception's type."""
    service = "database" if isinstance(exc, DATABASE_UNAVAILABLE_ERRORS) else "shared cache"
    outage_log(
        logger,
        logging.ERROR,
        "Backing service unavailable (%s): %s",
        service,
        type(exc).__name__,
        exc=exc,
    )
    _request_state.logged = True
    return ServiceUnavailable()


def unavailable_raised(func: Callable[P, T]) -> Callable[P, T]:
    """Let `func` raise ServiceUnavailable instead of a raw backing-service error."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except unavailable_errors() as exc:
            raise unavailable(exc) from exc

    return wrapper
