"""The rollup tasks through a real Celery worker on the Redis broker (not eager mode).

The worker is a subprocess on the test database (committed rows, hence transactional_db) and
on a queue of its own, so it never takes tasks meant for anyone else sharing the broker.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.fixtures import requires_postgres, requires_redis
from tests.usage.records import make_record
from usage import tasks
from usage.models import DailyUsage

DAY = date(2026, 3, 10)
WORKER_START_TIMEOUT = 90.0  # seconds; a cold worker imports Django, the SDKs and the apps


def _database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{db['NAME']}"


def _wait_for(condition, *, timeout: float, worker: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}):\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    pytest.fail(f"no result within {timeout}s; worker log:\n{log.read_text()[-4000:]}")


@requires_postgres
@requires_redis
def test_rollup_tasks_run_on_a_real_worker(transactional_db):
    make_record(created_at=datetime(2026, 3, 10, 9, tzinfo=UTC), input_tokens=11)
    make_record(created_at=datetime(2026, 3, 10, 10, tzinfo=UTC), input_tokens=31)
    make_record(created_at=datetime(2026, 3, 12, 10, tzinfo=UTC), output_tokens=5)

    queue = f"test-usage-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
    with log.open("w") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--queues",
                queue,
                "--hostname",
                f"{queue}@%h",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        tasks.usage_rollup_days.apply_async(args=["2026-03-10", "2026-03-11"], queue=queue)
        tasks.usage_rollup_today.apply_async(args=["2026-03-12T12:00:00+00:00"], queue=queue)

        _wait_for(
            lambda: DailyUsage.objects.filter(day__in=[DAY, date(2026, 3, 12)]).count() == 2,
            timeout=WORKER_START_TIMEOUT,
            worker=worker,
            log=log,
        )
        row = DailyUsage.objects.get(day=DAY)
        assert (row.requests, row.input_tokens) == (2, 42)
        assert DailyUsage.objects.get(day=date(2026, 3, 12)).output_tokens == 5
        assert "usage.rollup_days" in log.read_text()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=5)
        log.unlink(missing_ok=True)
