"""What `make run` does before it starts the processes, without starting Django needlessly.

Each `manage.py` start costs seconds (the provider SDKs are imported), so:
- `check-port PORT` fails at once, with a clear message, when the web port is taken (a second
  `make run`, say), before anything else is started;
- `prepare` migrates, then loads the model catalog and the schedules only when something they
  depend on changed since the last successful load: the catalog file, the two commands (the
  schedules' definition lives in setup_schedules.py), the database URL or business time zone,
  or a migration was applied (a new or reset database). The fingerprint is a SHA-256 kept in
  var/run-stamp.

Standard library only: it runs before Django is imported.
"""

import errno
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP = ROOT / "var" / "run-stamp"
INPUTS = (
    ROOT / "providers" / "catalog" / "model_catalog.json",
    ROOT / "providers" / "management" / "commands" / "load_model_catalog.py",
    ROOT / "usage" / "management" / "commands" / "setup_schedules.py",
)
SETTINGS = ("DATABASE_URL", "BUSINESS_TIME_ZONE")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server already listens on host:port (binding as the web server will)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def _dotenv() -> dict[str, str]:
    path = ROOT / ".env"
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip().strip("'\"")
    return values


def fingerprint() -> str:
    """SHA-256 over what the catalog and schedule loads depend on (settings as Django reads
    them: the environment first, then .env)."""
    digest = hashlib.sha256()
    for path in INPUTS:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    dotenv = _dotenv()
    for name in SETTINGS:
        digest.update(f"{name}={os.environ.get(name, dotenv.get(name, ''))}\0".encode())
    return digest.hexdigest()


def _manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=False)  # noqa: S603


def _migrate() -> tuple[int, bool]:
    """Run migrate, echoing its output; whether it applied anything."""
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"],
        stdout=subprocess.PIPE,
        text=True,
    )
    applied = False
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        applied = applied or line.lstrip().startswith("Applying ")
    return process.wait(), applied


def prepare() -> int:
    code, applied = _migrate()
    if code:
        return code
    wanted = fingerprint()
    if not applied and STAMP.exists() and STAMP.read_text().strip() == wanted:
        print("Model catalog and schedules unchanged since the last load: not reloaded.")
        return 0
    STAMP.unlink(missing_ok=True)
    for command in ("load_model_catalog", "setup_schedules"):
        code = _manage(command).returncode
        if code:
            return code
    STAMP.parent.mkdir(parents=True, exist_ok=True)
    STAMP.write_text(wanted + "\n")
    return 0


def check_port(port: int) -> int:
    if port_in_use(port):
        print(
            f"make run: port {port} on 127.0.0.1 is already in use (is another `make run` "
            f"still running?). Nothing was started. Stop it, or pick a free port: "
            f"make run PORT={port + 1}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "check-port" and argv[1].isdigit():
        return check_port(int(argv[1]))
    if argv == ["prepare"]:
        return prepare()
    print("usage: devrun.py check-port PORT | prepare", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
