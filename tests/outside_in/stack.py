"""The production stack as real processes, for tests that attack it from outside.

`ProductionStack` starts what the README's production section documents, each as its own
process with `config.settings.production`:
- nginx (Debian's package) with the shipped `deploy/nginx/control-plane-proxy.conf`, in front of
- gunicorn with the shipped `config/gunicorn.conf.py` (2 gthread workers x 16 threads),
- a Celery worker and Celery beat (django-celery-beat's DatabaseScheduler),
against the PostgreSQL and Redis of DATABASE_URL and REDIS_URL. The database is a dedicated one,
named after DATABASE_URL's with `_outside_in` (and the xdist worker) appended, so it never
clashes with pytest-django's test database; it is created (migrations, schedules) on start and
dropped on stop. Cache keys carry a prefix of the run's own, deleted on stop.

Tests talk to it as clients do (HTTP through nginx, `url`), read its tables with plain SQL
(`sql`), and change its state as staff would, through the project's own services in a Python
process of the stack's (`django`). Providers point at fakes running in the test process
(tests/fakes/hostile_server.py), reached over loopback.

Plain HTTP in front (no TLS in tests): SECURE_SSL_REDIRECT is off, everything else is as in
production. Every wait is bounded; the logs of all processes are kept under the run's folder and
shown when something does not come up.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import psycopg
import redis
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]
# The code the stack's processes run: this checkout, or another (OUTSIDE_IN_APP, e.g. a
# `git archive` of a branch) to run these tests against work that is not merged yet.
APP = Path(os.environ.get("OUTSIDE_IN_APP") or REPO)
NGINX_SNIPPET = REPO / "deploy" / "nginx" / "control-plane-proxy.conf"
PYTHON = sys.executable
CELERY = str(Path(PYTHON).with_name("celery"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def stack_database_url(database_url: str) -> str:
    """DATABASE_URL with a database name of the stack's own."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") or "postgres"
    suffix = "_outside_in"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        suffix += f"_{worker}"
    return urlunsplit(parts._replace(path=f"/{name[: 63 - len(suffix)]}{suffix}"))


class Process:
    """One child process with its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            command, cwd=APP, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self, tail: int = 6000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-tail:]

    def running(self) -> bool:
        return self.popen.poll() is None

    def send(self, signum: int) -> None:
        if self.running():
            self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        self.send(signum)
        code = self.wait(timeout)
        if code is None:
            self.popen.kill()
            code = self.popen.wait()
        self._log.close()
        return code

    def wait_for_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log(tail=200_000):
                return
            assert self.running(), f"{self.name} exited:\n{self.log()}"
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not log {text!r} within {timeout} s:\n{self.log()}")


class ProductionStack:
    def __init__(
        self,
        folder: Path,
        *,
        database_url: str,
        redis_url: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.database_url = stack_database_url(database_url)
        self.redis_url = redis_url
        self.cache_prefix = f"oi-{uuid.uuid4().hex[:10]}"
        self.metrics_token = secrets.token_urlsafe(24)
        self.gunicorn_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.gunicorn_url = f"http://127.0.0.1:{self.gunicorn_port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("COV_", "PYTEST_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": self.cache_prefix,
            "STATIC_ROOT": str(folder / "static"),
            # Each stack counts into a metrics directory of its own (two stacks never mix).
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "prometheus"),
            "METRICS_BEARER_TOKEN": self.metrics_token,
            "SECURE_SSL_REDIRECT": "false",
            # The fakes listen on loopback: allowed explicitly, as a local Ollama would be.
            "PROVIDER_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "RUNTIME_TOTAL_TIMEOUT_SECONDS": "20",
            "GUNICORN_BIND": f"127.0.0.1:{self.gunicorn_port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "16",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.processes: dict[str, Process] = {}
        self.seeded: dict[str, Any] = {}  # secrets returned by the seed (keys, staff tokens)

    # -- lifecycle -------------------------------------------------------------------------
    def prepare(
        self,
        fast_schedules: dict[str, float] | None = None,
        seed: str = "result = None",
        seed_args: Any = None,
    ) -> Any:
        """A fresh database with the migrations and the schedules (`fast_schedules`: task name
        -> seconds, replacing the documented interval so a test need not wait minutes), then
        `seed` (code for `django`, given `args["seed"]`) for staff's setup; returns its result.

        One process for all of it: each Django process costs seconds of imports. The README's
        `collectstatic` is left out: these tests use the APIs, not the admin's pages."""
        self._database("DROP DATABASE IF EXISTS {name} WITH (FORCE)", "CREATE DATABASE {name}")
        return self.django(
            "from django.core.management import call_command\n"
            "from django_celery_beat.models import IntervalSchedule, PeriodicTask\n"
            "call_command('migrate', '--noinput', verbosity=0)\n"
            "call_command('setup_schedules', verbosity=0)\n"
            "for task, seconds in args['schedules'].items():\n"
            "    every, _ = IntervalSchedule.objects.get_or_create(\n"
            "        every=seconds, period=IntervalSchedule.SECONDS)\n"
            "    PeriodicTask.objects.filter(task=task).update(interval=every, crontab=None)\n"
            "args = args['seed']\n" + seed,
            args={"schedules": fast_schedules or {}, "seed": seed_args},
            timeout=300,
        )

    def start(self, *, worker: bool = True, beat: bool = True) -> None:
        self.start_web()
        self.start_nginx()
        if worker:
            self.processes["worker"] = Process(
                "worker",
                [CELERY, "-A", "config", "worker", "--loglevel=INFO", "--concurrency=2"],
                self.env,
                self.folder,
            )
        if beat:
            self.processes["beat"] = Process(
                "beat",
                [
                    *(CELERY, "-A", "config", "beat", "--loglevel=INFO"),
                    *("--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"),
                    *("--schedule", str(self.folder / "beat-schedule")),
                ],
                self.env,
                self.folder,
            )
        self.wait_ready()
        if worker:
            self.processes["worker"].wait_for_log(" ready.", timeout=60)
        if beat:
            self.processes["beat"].wait_for_log("beat: ready", timeout=60)

    def start_web(self) -> None:
        command = [PYTHON, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
        self.processes["gunicorn"] = Process("gunicorn", command, self.env, self.folder)

    def start_nginx(self) -> None:
        binary = nginx_binary()
        assert binary, "nginx is not installed (apt-get install nginx)"
        conf = self.folder / "nginx.conf"
        temp = self.folder / "nginx-temp"
        temp.mkdir(exist_ok=True)
        conf.write_text(
            NGINX_TEST_CONF.format(
                folder=self.folder,
                temp=temp,
                port=self.port,
                gunicorn_port=self.gunicorn_port,
                snippet=NGINX_SNIPPET,
            )
        )
        command = [binary, "-c", str(conf), "-p", str(self.folder), "-e", "stderr"]
        self.processes["nginx"] = Process("nginx", command, self.env, self.folder)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until /healthz answers 200 through nginx."""
        deadline = time.monotonic() + timeout
        with httpx2.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                for name in ("gunicorn", "nginx"):
                    process = self.processes[name]
                    assert process.running(), f"{name} exited:\n{process.log()}"
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                time.sleep(0.2)
        raise AssertionError(f"the stack did not become healthy in {timeout} s:\n{self.logs()}")

    def stop(self) -> None:
        # All at once (each takes seconds to shut down gracefully); nginx last, gracefully.
        apps = [
            self.processes.pop(n) for n in ("beat", "worker", "gunicorn") if n in self.processes
        ]
        for process in apps:
            process.send(signal.SIGTERM)
        for process in apps:
            process.stop(timeout=30)
        if "nginx" in self.processes:
            self.processes.pop("nginx").stop(signal.SIGQUIT, timeout=10)
        client = redis.Redis.from_url(self.redis_url)
        try:
            keys = list(client.scan_iter(match=f"{self.cache_prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
        self._database("DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.log(3000)}" for n, p in self.processes.items())

    # -- talking to it -----------------------------------------------------------------------
    def client(self, key: str | None = None, timeout: float = 10.0) -> httpx2.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx2.Client(base_url=self.url, headers=headers, timeout=timeout)

    def manage(self, *args: str, timeout: float = 60.0) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=APP,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def django(self, code: str, args: Any = None, timeout: float = 60.0) -> Any:
        """Run `code` in a Django process of the stack (production settings, its database);
        `args` is available to it, and whatever it assigns to `result` comes back (JSON)."""
        program = (
            "import json, sys\nimport django\ndjango.setup()\n"
            "args = json.loads(sys.stdin.read())\n"
            f"{code}\n"
            "print('\\n@@result@@' + json.dumps(result, default=str))\n"
        )
        done = subprocess.run(
            [PYTHON, "-c", program],
            cwd=APP,
            env=self.env,
            input=json.dumps(args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"stack python failed:\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout.rsplit("@@result@@", 1)[1])

    @contextmanager
    def db(self) -> Iterator[psycopg.Connection]:
        with psycopg.connect(_libpq_url(self.database_url), autocommit=True) as connection:
            yield connection

    def sql(self, query: str, params: tuple | dict | None = None) -> list[tuple]:
        with self.db() as connection:
            return connection.execute(query, params).fetchall()

    def _database(self, *statements: str) -> None:
        parts = urlsplit(self.database_url)
        name = parts.path.lstrip("/")
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(_libpq_url(admin), autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement.format(name=f'"{name}"'))


def _libpq_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


NGINX_TEST_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 2048; }}
http {{
    access_log {folder}/nginx-access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    upstream control_plane {{
        server 127.0.0.1:{gunicorn_port};
        keepalive 32;
        keepalive_timeout 60s;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include {snippet};
    }}
}}
"""
