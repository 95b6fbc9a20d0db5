"""One JSON object per log line (LOG_FORMAT=json, the production default).

Every record carries time (UTC, ISO 8601 with milliseconds), level, logger, message and the
current request id (of the HTTP request or Celery task the record was logged for); the
request's summary line (config/request_context.py) adds its fields under `http`; a traceback
comes as `exc_info` text. The RedactSecretsFilter runs on the handler before this formatter,
so the message and traceback are already redacted; the fields of `http` hold no secret (a
key's public prefix at most).
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from config.request_context import current_request_id

# Attributes every LogRecord has: not copied as extra fields.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Extras Django and Celery attach that are objects, not data (the request, the socket).
_SKIPPED = frozenset({"request", "server_time", "status_code"})
# orjson writes what json.dumps(default=str) wrote: datetimes and dataclasses through str().
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name not in _SKIPPED and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        try:
            return orjson.dumps(entry, default=str, option=_ORJSON_OPTIONS).decode()
        except orjson.JSONEncodeError:  # a key that is not a string, an integer past 64 bits
            return json.dumps(entry, default=str, separators=(",", ":"))
