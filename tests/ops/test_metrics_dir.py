"""The multiprocess directory: dead processes' files go at start, live ones stay."""

import os
import subprocess
import sys

from config import metrics_dir


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_prepare_removes_only_dead_processes_files(tmp_path):
    directory = tmp_path / "prometheus"
    assert metrics_dir.prepare(directory) == []  # created
    alive, dead = os.getpid(), dead_pid()
    for name in (f"counter_{alive}.db", f"counter_{dead}.db", f"histogram_{dead}.db", "notes.txt"):
        (directory / name).write_bytes(b"x")
    removed = metrics_dir.prepare(directory)
    assert sorted(p.name for p in removed) == [f"counter_{dead}.db", f"histogram_{dead}.db"]
    assert sorted(p.name for p in directory.iterdir()) == [f"counter_{alive}.db", "notes.txt"]


def test_an_exited_worker_loses_its_live_gauges_only(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics_dir.ENV, str(tmp_path))
    for name in ("gauge_livesum_4242.db", "gauge_all_4242.db", "counter_4242.db"):
        (tmp_path / name).write_bytes(b"x")
    metrics_dir.process_exited(4242)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db", "gauge_all_4242.db"]


def test_gunicorn_sets_the_directory_before_workers_start(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics_dir.ENV, "recorded, so that teardown restores the original")
    monkeypatch.delenv(metrics_dir.ENV)
    assert metrics_dir.ensure_env() == metrics_dir.default_dir()
    monkeypatch.setenv(metrics_dir.ENV, str(tmp_path))
    assert metrics_dir.ensure_env() == tmp_path


def test_a_missing_directory_is_created_before_any_series_file(tmp_path, monkeypatch):
    """`manage.py migrate` run with the variable exported before gunicorn prepared the folder
    must not fail when the metrics module defines its series."""
    folder = tmp_path / "not" / "yet"
    monkeypatch.setenv(metrics_dir.ENV, str(folder))
    metrics_dir.directory_ensure()
    assert folder.is_dir()


def test_nothing_is_created_when_the_variable_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv(metrics_dir.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    metrics_dir.directory_ensure()
    assert list(tmp_path.iterdir()) == []
