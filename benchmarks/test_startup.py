"""`make bench`: process start-up, `python -X importtime manage.py check`, under
BENCH_START_MAX_S (default 1.5 s) wall, the median of BENCH_START_RUNS (5) fresh interpreters.

Every manage.py command, Celery worker and gunicorn worker pays it. The slowest imports are
printed (from -X importtime's cumulative column) so that a regression names its culprit.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAX_S = float(os.environ.get("BENCH_START_MAX_S", "1.5"))
RUNS = int(os.environ.get("BENCH_START_RUNS", "5"))


def test_manage_py_check_starts_fast():
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PATH": "/usr/bin:/bin",
        **{k: v for k, v in os.environ.items() if k in ("DATABASE_URL", "REDIS_URL")},
    }
    walls = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "manage.py", "check"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        walls.append(time.perf_counter() - started)
        assert result.returncode == 0, result.stderr[-2000:]
    slowest = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2][1:].startswith(" "):
            slowest.append((int(parts[1]), parts[2].strip()))
    top = ", ".join(f"{name} {us / 1e6:.2f} s" for us, name in sorted(slowest)[-5:][::-1])
    wall = statistics.median(walls)
    print(f"\nmanage.py check start: median {wall:.2f} s wall over {RUNS} runs ({top})")
    assert wall <= MAX_S, f"start-up {wall:.2f} s (bound {MAX_S} s)"
