"""A logging filter that redacts credentials from every record before it is written."""

import logging
import re
from typing import Any

# Bearer tokens, `key=` query parameters (Gemini puts keys in URLs), common key shapes and
# header-style `x-api-key: ...` / `x-goog-api-key: ...` pairs, passwords in URLs.
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]{8,}"),
    re.compile(r"(?i)([?&](?:key|api_key|apikey)=)[^&\s'\"]+"),
    re.compile(
        r"(?i)((?:x-api-key|x-goog-api-key|api-key|authorization)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"
    ),
    re.compile(r"\b(sk-[A-Za-z0-9_\-]{2})[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\b(AIza)[A-Za-z0-9_\-]{20,}"),
    # Passwords in connection URLs (redis://:password@host, postgres://user:password@host).
    re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^:/\s@]*:)[^@\s/]+(?=@)"),
]


def redact(text: str) -> str:
    """Replace anything shaped like a credential with a marker, keeping its label."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[REDACTED]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Redacts the message and any traceback of each record before a handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Formatted tracebacks include exception text: render and redact it here.
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def redact_handlers(logger: logging.Logger, **kwargs: Any) -> None:
    """Put the redaction filter on every handler of `logger` that lacks it.

    Celery workers replace the root logger's handlers (worker_hijack_root_logger) with their
    own; connected to its after_setup_logger / after_setup_task_logger signals, this keeps
    worker logs as clean as the web processes'.
    """
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())
