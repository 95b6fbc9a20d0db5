"""The directory prometheus-client's multiprocess mode shares between processes of one host.

Every process that counts (each gunicorn worker, each Celery pool process) writes its series
into files named `<kind>_<pid>.db` under PROMETHEUS_MULTIPROC_DIR, and the process answering
`/metrics` adds them all up. The variable must be set before prometheus-client is imported:
config/gunicorn.conf.py sets it (default `var/prometheus`) before any worker loads the
application. A Celery worker imports the application before its first signal, so it counts
into the directory only when the variable is exported for it (the same path as gunicorn's).

Cleaning: at the start of gunicorn's arbiter and of a Celery worker, `prepare()` creates the
directory and deletes the files of processes that are no longer running (a previous run's):
their counters would otherwise be added to the new run's forever. Files of live processes (a
Celery worker still running while gunicorn restarts, or the other way round) are kept. When a
gunicorn worker or Celery pool process exits, `process_exited(pid)` drops its live gauges;
its counters and histograms stay, so totals never go backwards while the service runs.
"""

import os
import re
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
_FILE = re.compile(r"_(\d+)\.db$")


def default_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "var" / "prometheus"


def ensure_env() -> Path:
    """Set PROMETHEUS_MULTIPROC_DIR (if unset) to the default directory; return it."""
    path = Path(os.environ.setdefault(ENV, str(default_dir())))
    return path


def directory_ensure() -> None:
    """Create PROMETHEUS_MULTIPROC_DIR when it is set and missing (nothing when unset)."""
    if path := os.environ.get(ENV):
        Path(path).mkdir(parents=True, exist_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def prepare(path: Path | None = None) -> list[Path]:
    """Create the directory and remove the files of dead processes; returns those removed."""
    directory = Path(path or os.environ[ENV])
    directory.mkdir(parents=True, exist_ok=True)
    removed = []
    for file in directory.glob("*.db"):
        match = _FILE.search(file.name)
        if match and not _alive(int(match.group(1))):
            file.unlink(missing_ok=True)
            removed.append(file)
    return removed


def process_exited(pid: int) -> None:
    """Forget the live gauges of an exited worker (gunicorn child_exit, Celery shutdown)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
