"""`make run`'s processes (honcho and the Procfile) stop on Ctrl-C without an ERROR line,
using the file broker (whose folders stay under var/) and the test database."""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from tests.fixtures import requires_postgres

ROOT = Path(settings.BASE_DIR)
# Beat is ready once its scheduler has written its entries (config/celery_signals.py): a Ctrl-C
# during that setup, right after `beat: Starting...`, interrupts a database write.
READY = ("Quit the server with CONTROL-C.", "ready.", "beat: ready (DatabaseScheduler)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_web_worker_and_beat_cleanly(tmp_path):
    url = urlsplit(os.environ["DATABASE_URL"])
    test_db = urlunsplit(url._replace(path="/" + connection.settings_dict["NAME"]))
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PORT")}
    env.update(
        DATABASE_URL=test_db,
        DJANGO_SETTINGS_MODULE="config.settings.local",
        SECRET_KEY="ctrl-c-test-secret-key",
        FIELD_ENCRYPTION_KEYS=settings.FIELD_ENCRYPTION_KEYS[0],
        PORT=str(_free_port()),
        PYTHONUNBUFFERED="1",
    )
    for folder in ("celery-broker", "celery-processed", "celery-control"):
        (ROOT / "var" / folder).mkdir(parents=True, exist_ok=True)
    log = tmp_path / "honcho.log"
    with log.open("w") as out:
        honcho = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "honcho"), "start", "-f", "Procfile"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        try:
            deadline = time.monotonic() + 120
            while not all(marker in log.read_text() for marker in READY):
                assert honcho.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            os.killpg(honcho.pid, signal.SIGINT)  # what Ctrl-C sends
            code = honcho.wait(timeout=60)
        finally:
            if honcho.poll() is None:
                os.killpg(honcho.pid, signal.SIGKILL)
    output = log.read_text()
    assert code in (0, 130), output
    assert "SIGINT received" in output
    assert "ERROR" not in output and "Traceback" not in output, output
    pids = [int(p) for p in re.findall(r"started \(pid=(\d+)\)", output)]
    assert len(pids) == 3
    time.sleep(0.5)
    assert not [pid for pid in pids if _alive(pid)]
    assert not (ROOT / "control").exists()
