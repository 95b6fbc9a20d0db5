"""An outage logs one line per refused request and its traceback at most once per
RUNTIME_OUTAGE_TRACEBACK_INTERVAL_SECONDS (per logger and error type), so a busy service in
an outage does not write a traceback per request."""

import logging

import redis
from django.db import OperationalError

from config import outages
from config.errors import ServiceUnavailable


def raised(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


def test_traceback_once_per_interval_per_error_type(caplog, settings, monkeypatch):
    settings.RUNTIME_OUTAGE_TRACEBACK_INTERVAL_SECONDS = 60
    clock = [1000.0]
    monkeypatch.setattr(outages.time, "monotonic", lambda: clock[0])
    caplog.set_level(logging.ERROR, logger="config.outages")
    for _ in range(3):
        assert isinstance(
            outages.unavailable(raised(redis.ConnectionError("x"))), ServiceUnavailable
        )
    outages.unavailable(raised(OperationalError("db")))  # another type: its own traceback
    clock[0] += 61
    outages.unavailable(raised(redis.ConnectionError("x")))  # a new interval
    lines = [r for r in caplog.records if r.name == "config.outages"]
    assert len(lines) == 5
    assert [bool(r.exc_info or r.exc_text) for r in lines] == [True, False, False, True, True]
    assert "shared cache" in lines[1].getMessage() and "database" in lines[3].getMessage()


def test_every_outage_line_names_only_the_error_type(caplog):
    caplog.set_level(logging.ERROR, logger="config.outages")
    outages.unavailable(raised(redis.ConnectionError("host redis.internal:6379 refused")))
    outages.unavailable(raised(redis.ConnectionError("host redis.internal:6379 refused")))
    for record in caplog.records:
        assert "redis.internal" not in record.getMessage()
