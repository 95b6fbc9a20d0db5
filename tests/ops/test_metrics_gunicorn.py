"""/metrics from gunicorn with two workers: each worker counts in its own files under
PROMETHEUS_MULTIPROC_DIR and the scrape, answered by either worker, adds them all up."""

import os
import secrets
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
import redis
from django.conf import settings
from prometheus_client import multiprocess

from benchmarks.test_http_path import database_url, free_port, production_stack
from providers.consumers import consumer_key_create
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.fakes.base import Faults
from tests.ledger_wait import ledger_read_until
from tests.ops.metrics_helpers import for_service, ledger_for_service, samples

REPO = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.django_db(transaction=True)
CALLS = 12


def start_gunicorn(
    tmp_path: Path, db_url: str, metrics_dir: Path
) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "1",  # one call at a time per worker: concurrent calls use both
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONUNBUFFERED": "1",
    }
    prefix = f"metrics-{uuid.uuid4().hex[:12]}"
    if production_stack():
        env |= {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "CACHE_KEY_PREFIX": prefix,
            "STATIC_ROOT": str(tmp_path / "static"),
            "PROVIDER_ALLOWED_NETWORKS": "127.0.0.1/32",  # the fake provider is on loopback
        }
    else:
        env |= {
            "DJANGO_SETTINGS_MODULE": "benchmarks.http_settings",
            "BENCH_CACHE_DIR": str(tmp_path / "cache"),
            "BENCH_CACHE_PREFIX": prefix,
        }
    log = (tmp_path / "gunicorn.log").open("wb")
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"]
    command += ["--bind", f"127.0.0.1:{port}", "config.wsgi"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}", prefix


def wait_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx2.get(f"{url}/livez", timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(log.read_text())


def requests_per_file(metrics_dir: Path, service: str) -> list[float]:
    """llm_requests_total of `service` in each process's counter file."""
    totals = []
    for path in sorted(metrics_dir.glob("counter_*.db")):
        value = 0.0
        for family in multiprocess.MultiProcessCollector.merge([str(path)]):
            for sample in family.samples:
                if sample.name == "llm_requests_total" and sample.labels["service"] == service:
                    value += sample.value
        totals.append(value)
    return totals


def test_two_workers_counts_add_up(tmp_path, openai_fake):
    service = f"mp_{uuid.uuid4().hex[:8]}"
    selection_set(
        service, model_create(provider_create(openai_fake, slug="mp", kind="openai"), "gpt-4o-mini")
    )
    _, secret = consumer_key_create(name="metrics-mp")
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999999.db").write_bytes(b"")  # a dead process's: cleaned at start
    process, url, prefix = start_gunicorn(tmp_path, database_url(tmp_path), metrics_dir)
    try:
        wait_ready(process, url, tmp_path / "gunicorn.log")
        assert not (metrics_dir / "counter_999999999.db").exists()
        openai_fake.faults = Faults(delay=0.2)  # calls overlap, so both workers take some
        headers = {"Authorization": f"Bearer {secret}", "X-Forwarded-Proto": "https"}
        body = {"model": service, "messages": [{"role": "user", "content": "hi"}]}

        def call(_: int) -> int:
            with httpx2.Client(base_url=url, headers=headers, timeout=20) as client:
                return client.post("/v1/chat/completions", json=body).status_code

        # /livez answered by one worker says nothing of the other, which may still be loading
        # Django on a busy machine: send rounds of overlapping calls until both have served.
        sent = 0
        deadline = time.monotonic() + 60
        while True:
            with ThreadPoolExecutor(max_workers=4) as pool:
                statuses = list(pool.map(call, range(CALLS)))
            assert statuses == [200] * CALLS
            sent += CALLS
            per_file = requests_per_file(metrics_dir, service)
            if len([v for v in per_file if v]) == 2 or time.monotonic() > deadline:
                break
        assert len([v for v in per_file if v]) == 2, per_file  # both workers counted calls
        found = samples(httpx2.get(f"{url}/metrics", timeout=10).text)
        counted = for_service(found["llm_requests_total"], service)
        assert sum(counted.values()) == sent == sum(per_file)
        if production_stack():  # gunicorn wrote to this test's PostgreSQL database
            ledger = ledger_read_until(
                lambda: ledger_for_service(service),
                lambda rows: sum(rows["requests"].values()) == sent,
            )
            assert counted == ledger["requests"]
            cost = for_service(found["llm_cost_usd_total"], service)
            assert cost == pytest.approx(ledger["cost"])
    finally:
        process.terminate()
        process.wait(timeout=30)
        if os.environ.get("REDIS_URL"):  # this run's keys only
            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
