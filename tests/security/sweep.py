"""Canaries for the leak sweep (test_leak_sweep.py): distinctive secrets planted in every place
a secret can live, a scanner that finds them (or any 12-character piece of one) in any text,
and dumps of the places where text is stored (every table, the shared cache).

The canaries are deliberately not key-shaped (no `sk-`, `AIza`, `Bearer`), so the logging
filter's patterns cannot hide them: only code that knows the exact secret, or never handles it,
keeps them out of a surface. Each canary has a `hidden` part, the value less what is public by
design (a provider key's last four characters in "set, ends in …abcd", a consumer key's prefix,
a knox token's `token_key`); no piece of the hidden part may appear anywhere.
"""

import base64
import io
import logging
import pickle
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.utils.module_loading import import_string

WINDOW = 12  # the shortest piece of a secret that counts as a leak

# What is planted. Fixed values, so a finding can be searched for in the code.
# Random bodies, so no two canaries share a 12-character piece (Sweep checks it).
PROVIDER_KEYS = {
    "oa": "cnry-Hq7Zt2Lm9Wx4Vb-oa-key",
    "an": "cnry-Rb3Np8Vc1Ks6Yd-an-key",
    "ge": "cnry-Jd5Fy0Tg7Qe2Pn-ge-key",
    "oc": "cnry-Xu4Mw9Pa3Lz8Hf-oc-key",
}
HEADER_NAME = "X-Sweep-Token"
HEADER_VALUES = {
    "oa": "cnry-Tk2Wq8Zr5Nc1-oa-header",
    "an": "cnry-Bv6Gm3Xs0Lp4-an-header",
    "ge": "cnry-Ur1Dk7Hy4Fw9-ge-header",
    "oc": "cnry-Ge2Ko7Si5Vn1-oc-header",
}
SECRET_KEY = "cnry-Yt6Bh1Nd8Qc3Lv0Ej4Gs7Pk2Mx9Aw5-django-secret-key"
FERNET_RAW = b"cnry-Wm3Ls8Dp2Ha6Tq9-fernet-key!"  # 32 bytes: a valid Fernet key once encoded
FERNET_KEY = base64.urlsafe_b64encode(FERNET_RAW).decode()
REDIS_PASSWORD = "cnry-Zq5Wn8Ct3Jb6-redis-password"


@dataclass(frozen=True)
class Canary:
    label: str
    value: str
    hidden: str  # the part no surface may show

    def found_in(self, text: str) -> bool:
        hidden = self.hidden
        if len(hidden) <= WINDOW:
            return hidden in text
        return any(hidden[i : i + WINDOW] in text for i in range(0, len(hidden) - WINDOW + 1))


def provider_key_canary(slug: str) -> Canary:
    key = PROVIDER_KEYS[slug]
    return Canary(f"provider key {slug}", key, key[:-4])


def static_canaries() -> list[Canary]:
    """Everything planted by settings and provider rows (consumer keys and staff tokens are
    generated, and added by the fixture that creates them)."""
    canaries = [provider_key_canary(slug) for slug in PROVIDER_KEYS]
    canaries += [Canary(f"header {slug}", v, v) for slug, v in HEADER_VALUES.items()]
    canaries += [
        Canary("SECRET_KEY", SECRET_KEY, SECRET_KEY),
        Canary("FIELD_ENCRYPTION_KEYS", FERNET_KEY, FERNET_KEY),
        Canary("Fernet key bytes", FERNET_RAW.decode(), FERNET_RAW.decode()),
    ]
    return canaries


def consumer_key_canary(raw: str) -> Canary:
    """`prefix.secret`: the prefix is shown in admin by design, the secret never."""
    return Canary("consumer key", raw, raw.partition(".")[2])


def staff_token_canary(token: str, token_key_length: int) -> Canary:
    """Knox stores (and admin shows) the first characters of a token to find its row."""
    return Canary("staff token", token, token[token_key_length:])


def as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return value if isinstance(value, str) else repr(value)


@dataclass
class Sweep:
    """Scans texts for canaries; remembers what it scanned, and every finding."""

    canaries: list[Canary]
    findings: list[str] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.add()

    def add(self, *more: Canary) -> None:
        """Add canaries; each must be findable only by itself, or findings would be noise."""
        self.canaries += more
        for canary in self.canaries:
            for other in self.canaries:
                assert other is canary or not canary.found_in(other.value), (canary, other)

    def scan(self, surface: str, where: str, text: Any) -> None:
        text = as_text(text)
        self.scanned[surface] = self.scanned.get(surface, 0) + 1
        for canary in self.canaries:
            if canary.found_in(text):
                self.findings.append(f"{surface}: {where}: {canary.label}")

    def scan_response(self, surface: str, where: str, response: Any) -> str:
        """Body (streamed or not) and headers of a Django test client response."""
        if getattr(response, "streaming", False):
            body = b"".join(response.streaming_content).decode(errors="replace")
        else:
            body = response.content.decode(errors="replace")
        self.scan(surface, f"{where} -> {response.status_code}", body)
        self.scan(f"{surface} headers", where, list(response.headers.items()))
        return body

    def report(self) -> str:
        return "\n".join(sorted(set(self.findings)))


# -- stored state ------------------------------------------------------------------------------
def table_dump() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as the database holds it (raw SQL: the ORM would decrypt the
    encrypted columns on the way out and report the plaintext as a leak)."""
    quote = connection.ops.quote_name
    dump = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {quote(table)}")
            dump[table] = [tuple(as_text(v) for v in row) for row in cursor.fetchall()]
    return dump


def session_payloads() -> Iterator[tuple[str, str]]:
    """Session data is signed and base64-encoded in its column: scan it decoded too."""
    for session in Session.objects.all():
        yield session.session_key[:8], repr(session.get_decoded())


def cache_entries(since: float) -> Iterator[tuple[str, str]]:
    """The shared cache's entries written by this test: Redis keys under the test's prefix,
    or the file cache's files written since `since` (decompressed and unpickled)."""
    backend = cache._cache if hasattr(cache, "_cache") else None
    if backend is not None and hasattr(backend, "get_client"):
        yield from _redis_entries(backend.get_client(), f"{cache.key_prefix}:*")
        return
    location = Path(cache._dir)  # FileBasedCache
    for path in location.glob("*.djcache"):
        if path.stat().st_mtime < since:
            continue
        with path.open("rb") as handle:
            try:
                pickle.load(handle)  # the expiry time
                yield path.name, repr(pickle.loads(zlib.decompress(handle.read())))
            except (EOFError, zlib.error, pickle.UnpicklingError):
                continue


def _redis_entries(client: Any, pattern: str) -> Iterator[tuple[str, str]]:
    for key in client.scan_iter(match=pattern, count=500):
        kind = client.type(key).decode()
        if kind == "string":
            raw = client.get(key)
            try:
                value: Any = pickle.loads(raw)
            except Exception:
                value = raw
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "set":
            value = client.smembers(key)
        else:
            value = kind
        yield as_text(key), as_text(value)


# -- logs ----------------------------------------------------------------------------------------
SDK_LOGGERS = (
    "openai",
    "anthropic",
    "google_genai",
    "google.genai",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "urllib3",
    "django.db.backends",
    "django.request",
    "celery",
)


class DebugLogs:
    """Every logger at DEBUG, the SDKs' included, rendered by a handler built like the
    project's console handler (LOGGING's formatter and redaction filter); the console handler's
    own output is captured too.

    django-celery-beat's task field makes Celery's Django fixup call django.setup() again each
    time a periodic task form is rendered, and that re-applies LOGGING: root handlers (these and
    caplog's) would be dropped and the levels reset mid-sweep. Logging is not reconfigured while
    the sweep runs.
    """

    def __init__(self) -> None:
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]))
        handler.addFilter(import_string(settings.LOGGING["filters"]["redact_secrets"]["()"])())
        handler.setLevel(logging.DEBUG)
        self.handler = handler
        self.console = io.StringIO()  # what the project's own console handler writes
        self._streams: dict[logging.StreamHandler, Any] = {}
        self._levels: dict[logging.Logger, int] = {}
        self._extra_handlers: list[logging.Logger] = []

    def _loggers(self) -> Iterable[logging.Logger]:
        yield logging.getLogger()
        for name in SDK_LOGGERS:
            yield logging.getLogger(name)
        for existing in list(logging.root.manager.loggerDict.values()):
            if isinstance(existing, logging.Logger):
                yield existing

    def __enter__(self) -> "DebugLogs":
        self._no_reconfiguration = mock.patch("django.utils.log.configure_logging")
        self._no_reconfiguration.start()
        for logger in self._loggers():
            self._levels.setdefault(logger, logger.level)
            logger.setLevel(logging.DEBUG)
            if not logger.propagate and logger is not logging.getLogger():
                logger.addHandler(self.handler)
                self._extra_handlers.append(logger)
        root = logging.getLogger()
        redacting = import_string(settings.LOGGING["filters"]["redact_secrets"]["()"])
        for existing in root.handlers:
            if isinstance(existing, logging.StreamHandler) and any(
                isinstance(f, redacting) for f in existing.filters
            ):
                self._streams[existing] = existing.setStream(self.console)
        root.addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self.handler)
        for existing, stream in self._streams.items():
            existing.setStream(stream)
        self._no_reconfiguration.stop()
        for logger in self._extra_handlers:
            logger.removeHandler(self.handler)
        for logger, level in self._levels.items():
            logger.setLevel(level)

    def text(self) -> str:
        return self.stream.getvalue()

    def console_text(self) -> str:
        assert self._streams, "the project's console handler is not on the root logger"
        return self.console.getvalue()


def encrypted_columns_decrypted() -> dict[str, list[str]]:
    """The plaintext behind every encrypted column, decrypted from the raw values with the
    configured keys: proof that the canaries were stored, in encrypted form."""
    from django.apps import apps

    from providers.fields import decrypt_value, encrypted_fields

    found: dict[str, list[str]] = {}
    quote = connection.ops.quote_name
    for model in apps.get_models():
        for model_field in encrypted_fields(model):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {quote(model_field.column)} FROM {quote(model._meta.db_table)}"
                )
                label = f"{model._meta.label}.{model_field.name}"
                found[label] = [
                    decrypt_value(token, label=label) for (token,) in cursor.fetchall() if token
                ]
    return found


def now() -> float:
    return time.time()
