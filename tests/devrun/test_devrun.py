"""`make run`'s preparation (scripts/devrun.py): the port check before anything starts, and
loading the catalog and schedules only when what they depend on changed."""

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SCRIPT = ROOT / "scripts" / "devrun.py"


@pytest.fixture
def devrun(tmp_path, monkeypatch):
    """The script as a module, its stamp in a temporary folder and its subprocesses recorded."""
    spec = importlib.util.spec_from_file_location("devrun_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    inputs = []
    for path in module.INPUTS:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        inputs.append(copy)
    monkeypatch.setattr(module, "INPUTS", tuple(inputs))
    monkeypatch.setattr(module, "STAMP", tmp_path / "var" / "run-stamp")
    monkeypatch.setattr(module, "ROOT", tmp_path)  # no .env there
    module.calls = []
    module.applied = False
    monkeypatch.setattr(module, "_migrate", lambda: (0, module.applied))

    def manage(*args):
        module.calls.append(args[0])
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(module, "_manage", manage)
    monkeypatch.setenv("DATABASE_URL", "postgres://db.example/one")
    return module


def _prepare(devrun) -> list[str]:
    devrun.calls.clear()
    assert devrun.prepare() == 0
    return list(devrun.calls)


def test_catalog_and_schedules_load_only_when_something_changed(devrun, monkeypatch, capsys):
    assert _prepare(devrun) == ["load_model_catalog", "setup_schedules"]
    assert devrun.STAMP.read_text().strip() == devrun.fingerprint()
    assert _prepare(devrun) == []
    assert "unchanged since the last load: not reloaded" in capsys.readouterr().out

    catalog = devrun.INPUTS[0]
    catalog.write_text(catalog.read_text().replace('"gpt-4.1"', '"gpt-4.2"', 1))
    assert _prepare(devrun) == ["load_model_catalog", "setup_schedules"]
    assert _prepare(devrun) == []

    schedules = devrun.INPUTS[2]
    schedules.write_text(schedules.read_text() + "\n# every_minutes changed\n")
    assert _prepare(devrun) == ["load_model_catalog", "setup_schedules"]

    monkeypatch.setenv("DATABASE_URL", "postgres://db.example/two")  # another database
    assert _prepare(devrun) == ["load_model_catalog", "setup_schedules"]
    assert _prepare(devrun) == []

    devrun.applied = True  # a migration ran: a new or reset database
    assert _prepare(devrun) == ["load_model_catalog", "setup_schedules"]


def test_a_failed_load_leaves_no_stamp(devrun, monkeypatch):
    monkeypatch.setattr(devrun, "_manage", lambda *args: subprocess.CompletedProcess(args, 1))
    assert devrun.prepare() == 1
    assert not devrun.STAMP.exists()


def test_the_stamp_holds_a_hash_not_the_database_url(devrun):
    _prepare(devrun)
    text = devrun.STAMP.read_text()
    assert "db.example" not in text and len(text.strip()) == 64


def _listening() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def test_check_port_refuses_a_busy_port_with_a_clear_message():
    with _listening() as server:
        port = server.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, str(SCRIPT), "check-port", str(port)], capture_output=True, text=True
        )
    assert busy.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in busy.stderr
    assert f"make run PORT={port + 1}" in busy.stderr
    free = subprocess.run(
        [sys.executable, str(SCRIPT), "check-port", str(port)], capture_output=True, text=True
    )
    assert free.returncode == 0, free.stderr


def test_make_run_on_a_busy_port_starts_nothing():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    with _listening() as server:
        port = server.getsockname()[1]
        result = subprocess.run(
            ["make", "--no-print-directory", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert "is already in use" in result.stderr
    for started in ("Operations to perform", "honcho start", "celery -A", "runserver"):
        assert started not in result.stdout + result.stderr


def test_procfile_web_port_comes_from_port():
    web = next(
        line.split(":", 1)[1].strip()
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    echo = web.replace("exec ", "echo ", 1)
    custom = subprocess.run(
        ["sh", "-c", echo], env={"PORT": "8123"}, capture_output=True, text=True
    )
    default = subprocess.run(["sh", "-c", echo], env={}, capture_output=True, text=True)
    assert "127.0.0.1:8123" in custom.stdout
    assert "127.0.0.1:8000" in default.stdout
