"""Gunicorn in production: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

Why these choices, for a proxy whose requests spend almost all their time waiting on an LLM
provider (seconds, or minutes for a long stream) and a few milliseconds on our own Python:

- `gthread` workers: a thread waiting on the provider's socket releases the GIL, so threads
  give the concurrency and processes are only needed for CPU parallelism: one worker per core
  (at least 2, so one restarting worker never leaves the host unable to answer), each with
  GUNICORN_THREADS threads. More processes than cores would cost ~100 MB each (three provider
  SDKs are loaded) and buy nothing. In-flight calls per host = workers x threads; each worker
  has a pool of at most `threads` database connections (DATABASE_POOL), so keep workers x
  threads x hosts under PostgreSQL's max_connections (or put PgBouncer in between).
- Never exposed to clients: nginx goes in front (deploy/nginx/, README "Running in
  production"). A gthread worker hands a connection to a thread as soon as it is readable, and
  the thread then blocks reading the rest of the headers and the body; a client that sends its
  headers and part of a body holds that thread. Measured here (2 workers x 16 threads, the
  production stack of tests/outside_in): 31 such connections with a valid key left /healthz
  answering in 50 ms, 40 made it time out. Through nginx, whose event loop reads each request
  whole before passing it on (proxy_request_buffering), 500 of them left /healthz at 60 ms
  and the outside-in test holds 200 with calls answered well under a second. A buffering proxy
  was chosen over an event-loop WSGI server (waitress buffers requests too, but has no graceful
  shutdown for streams in flight, and gevent would need the SDKs and psycopg monkey-patched):
  nginx also terminates TLS and serves static files, streams pass unbuffered
  (`X-Accel-Buffering: no`), and gunicorn keeps its graceful shutdown below.
- `timeout` does not cut long calls: a gthread worker's main loop keeps heartbeating while its
  threads wait, so it only catches a hung worker. Calls are bounded by the runtime's own
  RUNTIME_TOTAL_TIMEOUT_SECONDS and the providers' timeouts.
- `graceful_timeout` outlasts that bound, so a deploy (SIGTERM) lets streams in flight finish
  instead of cutting them; give the orchestrator's kill grace period at least as long.
- `keepalive` outlasts the idle timeout of the proxy or load balancer in front (60 s on most),
  so the proxy never reuses a connection that gunicorn has just closed (a spurious 502). Idle
  keep-alive connections wait in the worker's poller, not in a thread.
- The access log names the method, the path without its query string, the status, the size,
  the duration and the request id: no query strings, no Authorization or other header values,
  no referer (gunicorn's default prints the raw request line with its query string, the
  referer, and the user name of Basic credentials). No endpoint takes a secret in its URL.

Every value can be overridden from the environment (names below) or on the command line.
"""

import os
from typing import Protocol


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _cores() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. `taskset` or cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# Behind a TLS-terminating proxy on the same host; containers set GUNICORN_BIND=0.0.0.0:8000.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = _env_int("WEB_CONCURRENCY", max(2, _cores()))
threads = _env_int("GUNICORN_THREADS", 16)

# Each worker takes its database connections from a pool of its own (config/settings/base.py,
# DATABASE_POOL), created after the fork; Celery and commands keep plain connections. Set in
# the arbiter's environment, which its workers inherit (DATABASE_POOL=false turns it off).
raw_env = [f"DATABASE_POOL={os.environ.get('DATABASE_POOL', 'true')}"]

timeout = _env_int("GUNICORN_TIMEOUT", 60)
_call_bound = int(float(os.environ.get("RUNTIME_TOTAL_TIMEOUT_SECONDS", "120")))
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", _call_bound + 15)
keepalive = _env_int("GUNICORN_KEEPALIVE", 75)
# Optional recycling of workers (0: never); the jitter keeps them from restarting together.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10

# Heartbeat files on tmpfs: a slow or full disk must not make the arbiter kill healthy workers.
# (gunicorn creates them with mkstemp and unlinks them at once: no predictable name.)
_SHM = "/dev/shm"  # noqa: S108
if os.path.isdir(_SHM):
    worker_tmp_dir = _SHM

# Only the proxy on this host may set X-Forwarded-For/-Proto for gunicorn itself (Django reads
# X-Forwarded-Proto through SECURE_PROXY_SSL_HEADER: the proxy must overwrite it).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = (
    '%(h)s fwd=%({x-forwarded-for}i)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms '
    'rid=%({x-request-id}o)s "%(a)s"'
)
proc_name = "control-plane"

# Prometheus multiprocess mode (config/metrics_dir.py): every worker writes its series under
# PROMETHEUS_MULTIPROC_DIR (default var/prometheus), set here before any worker imports the
# application; the arbiter removes dead processes' files at start, and a worker's live gauges
# when it exits.
# Loaded from its file: importing the `config` package here would load Celery into the arbiter.
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "config_metrics_dir", os.path.join(os.path.dirname(os.path.abspath(__file__)), "metrics_dir.py")
)
assert _spec is not None and _spec.loader is not None, "config/metrics_dir.py is missing"
metrics_dir = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(metrics_dir)
metrics_dir.ensure_env()


def on_starting(server: object) -> None:
    metrics_dir.prepare()


class _Worker(Protocol):
    """What the hooks read of gunicorn's worker (gunicorn ships no type hints)."""

    pid: int


def child_exit(server: object, worker: _Worker) -> None:
    metrics_dir.process_exited(worker.pid)


def post_worker_init(worker: object) -> None:
    """Import the adapters (and provider SDKs) of the provider kinds configured, once the worker
    has loaded the app, before it accepts requests: commands and Celery start without the SDKs
    (providers.adapters.registry), but a web worker's first call must not pay a second of
    imports. Only the kinds in use: each SDK costs 20-70 MB of every worker's memory (a kind
    configured later is imported by its first call). All of them if the database cannot say."""
    from django.db import DatabaseError, connections

    from providers.adapters.registry import ADAPTERS
    from providers.models import ProviderConfig

    try:
        kinds = set(ProviderConfig.objects.values_list("kind", flat=True).distinct())
    except DatabaseError:
        kinds = set(ADAPTERS)
    finally:
        connections.close_all()  # the worker's threads open their own (or borrow from the pool)
    for kind in kinds & set(ADAPTERS):
        ADAPTERS[kind]  # the lookup is the import
    _ledger_writer_start()


def _ledger_writer_start() -> None:
    """/v1 and /anthropic calls' ledger rows are written after their answers, by a thread of
    this worker's (usage/services/ledger_writer.py), unless LEDGER_WRITE_BEHIND is off."""
    from django.conf import settings

    from usage.services.ledger_writer import ledger_writer_start

    if settings.LEDGER_WRITE_BEHIND:
        ledger_writer_start()


def worker_exit(server: object, worker: object) -> None:
    """Write the ledger rows still queued before the worker goes: a graceful stop loses none.
    They take milliseconds; 5 s covers a database that fails meanwhile, after which the rows
    left are logged in full (the arbiter's kill at graceful_timeout would lose them)."""
    from usage.services.ledger_writer import ledger_writer_stop

    ledger_writer_stop(timeout=5.0)
