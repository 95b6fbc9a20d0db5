"""config/gunicorn.conf.py: its defaults, its environment overrides, and an access log that
never carries a query string or a credential."""

import datetime
import os
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

CONF = Path(__file__).resolve().parent.parent / "config" / "gunicorn.conf.py"
VARIABLES = (
    "GUNICORN_BIND",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_MAX_REQUESTS",
    "RUNTIME_TOTAL_TIMEOUT_SECONDS",
    "DATABASE_POOL",
)


@pytest.fixture
def load(monkeypatch):
    def load(**env: str) -> dict:
        for name in VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(CONF))

    return load


def test_defaults_suit_an_io_bound_proxy(load):
    conf = load()
    assert conf["worker_class"] == "gthread"
    assert conf["workers"] == max(2, len(os.sched_getaffinity(0)))
    assert conf["threads"] == 16
    assert conf["bind"] == "127.0.0.1:8000"
    # Deploys let calls in flight (bounded by the runtime's 120 s) finish.
    assert conf["graceful_timeout"] == 135
    assert conf["keepalive"] > 60  # longer than a load balancer's idle timeout
    assert conf["max_requests"] == 0
    assert conf["accesslog"] == "-"
    # Web workers take connections from a pool (config/settings/base.py); off on request.
    assert conf["raw_env"] == ["DATABASE_POOL=true"]
    assert load(DATABASE_POOL="false")["raw_env"] == ["DATABASE_POOL=false"]


def test_the_environment_overrides_every_sizing(load):
    conf = load(
        GUNICORN_BIND="0.0.0.0:9000",
        WEB_CONCURRENCY="5",
        GUNICORN_THREADS="32",
        GUNICORN_TIMEOUT="90",
        GUNICORN_KEEPALIVE="5",
        GUNICORN_MAX_REQUESTS="10000",
        RUNTIME_TOTAL_TIMEOUT_SECONDS="300",
    )
    assert (conf["bind"], conf["workers"], conf["threads"]) == ("0.0.0.0:9000", 5, 32)
    assert (conf["timeout"], conf["keepalive"]) == (90, 5)
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (10000, 1000)
    assert conf["graceful_timeout"] == 315
    assert load(GUNICORN_GRACEFUL_TIMEOUT="30")["graceful_timeout"] == 30


def access_line(log_format: str) -> str:
    """The line gunicorn's logger writes for one request carrying secrets in every place a
    client might put them: the query string, Authorization (Bearer and Basic), the referer."""
    config = Config()
    config.set("access_log_format", log_format)
    logger = Logger(config)
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/v1/chat/completions?api_key=sk-query-secret-0123",
        "PATH_INFO": "/v1/chat/completions",
        "QUERY_STRING": "api_key=sk-query-secret-0123",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": "Basic YmFzaWMtdXNlcjpiYXNpYy1wYXNz",  # basic-user:basic-pass
        "HTTP_REFERER": "https://app.example.com/page?token=referer-secret",
        "HTTP_USER_AGENT": "OpenAI/Python 3.54.0",
    }
    request = SimpleNamespace(
        headers=[
            ("AUTHORIZATION", environ["HTTP_AUTHORIZATION"]),
            ("X-API-KEY", "sk-header-secret-0123"),
            ("X-FORWARDED-FOR", "203.0.113.7"),
        ]
    )
    response = SimpleNamespace(status="200 OK", headers=[("x-request-id", "req-42")], sent=321)
    took = datetime.timedelta(milliseconds=1234)
    return log_format % SafeAtoms(logger.atoms(response, request, environ, took))


def test_the_access_log_names_the_request_and_no_secret(load):
    line = access_line(load()["access_log_format"])
    assert '"POST /v1/chat/completions HTTP/1.1" 200 321 1234ms' in line
    assert "rid=req-42" in line and "fwd=203.0.113.7" in line
    for secret in ("sk-query-secret", "api_key", "basic-user", "basic-pass", "YmFza"):
        assert secret not in line
    assert "sk-header-secret" not in line and "referer-secret" not in line


def test_gunicorns_default_format_would_have_leaked_the_query_string():
    # Why the project sets its own format: the default prints the raw request line.
    line = access_line(Config().access_log_format)
    assert "sk-query-secret-0123" in line and "basic-user" in line


@pytest.mark.django_db(transaction=True)
def test_workers_import_the_adapters_of_the_kinds_configured_before_serving(load, openai_fake):
    """Lazy SDK imports keep commands fast; a web worker takes the cost of the SDKs it will use
    before its first call, and not the memory of the others."""
    from providers.adapters.registry import ADAPTERS
    from tests.chat.helpers import provider_create

    provider_create(openai_fake, slug="oa", kind="openai")
    provider_create(openai_fake, slug="local", kind="openai_compatible")
    ADAPTERS._classes.clear()
    load()["post_worker_init"](SimpleNamespace())
    assert set(ADAPTERS._classes) == {"openai", "openai_compatible"}


@pytest.mark.parametrize("write_behind", [True, False])
def test_a_worker_runs_a_ledger_writer_from_its_start_to_its_exit(load, settings, write_behind):
    """A booted worker starts the ledger writer (unless LEDGER_WRITE_BEHIND is off); its exit
    stops it, writing what is queued (tests/usage/test_ledger_writer.py)."""
    from usage.services import ledger_writer

    settings.LEDGER_WRITE_BEHIND = write_behind
    conf = load()
    conf["_ledger_writer_start"]()
    try:
        assert (ledger_writer._writer is not None) is write_behind
    finally:
        conf["worker_exit"](None, None)
    assert ledger_writer._writer is None
