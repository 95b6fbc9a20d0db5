"""One production stack for the whole outside-in module (starting it costs ~20 s), and the
hostile upstream it calls.

The stack needs PostgreSQL, Redis and nginx. In CI (CI=true) a missing one fails the run;
on a developer machine without them these tests are skipped with the reason.
"""

import os
from collections.abc import Iterator

import pytest

from tests.fakes.hostile_server import HostileServer
from tests.outside_in.seed import SEED, openai_provider
from tests.outside_in.stack import ProductionStack, nginx_binary

# Beat rolls today up every 2 s instead of every 5 minutes.
FAST_SCHEDULES = {"usage.rollup_today": 2}
CHAT_SERVICE = "oi_chat"


def _missing(nginx_only: bool = False) -> str | None:
    if nginx_only:
        return None if nginx_binary() else "needs nginx (Debian: apt-get install nginx)"
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if not os.environ.get("REDIS_URL"):
        return "needs Redis: set REDIS_URL=redis://..."
    if nginx_binary() is None:
        return "needs nginx (Debian: apt-get install nginx; .ci/run installs it)"
    return None


def require_stack_tools(nginx_only: bool = False) -> None:
    """Fail in CI, skip elsewhere, when what the stack needs is missing."""
    missing = _missing(nginx_only)
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"outside-in tests cannot run in CI: {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="session")
def hostile_upstream() -> Iterator[HostileServer]:
    server = HostileServer().start()
    yield server
    server.stop()


@pytest.fixture
def hostile(hostile_upstream: HostileServer) -> HostileServer:
    """The hostile upstream, back to its defaults for this test."""
    hostile_upstream.reset()
    return hostile_upstream


@pytest.fixture(scope="session")
def production_stack(tmp_path_factory, hostile_upstream) -> Iterator[ProductionStack]:
    require_stack_tools()
    stack = ProductionStack(
        tmp_path_factory.mktemp("stack"),
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
    )
    try:
        stack.seeded = stack.prepare(
            fast_schedules=FAST_SCHEDULES,
            seed=SEED,
            seed_args={
                "providers": [openai_provider("hostile", hostile_upstream)],
                "models": [{"provider": "hostile", "name": "gpt-4o-mini"}],
                "selections": [{"service": CHAT_SERVICE, "primary": "hostile:gpt-4o-mini"}],
                "keys": [{"name": "oi-main"}, {"name": "oi-other"}],
                "staff": [{"username": "oi-admin", "superuser": True}],
            },
        )
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack(production_stack: ProductionStack, hostile: HostileServer) -> ProductionStack:
    """The running stack, its web processes healthy (a test may have restarted them)."""
    if not production_stack.processes["gunicorn"].running():
        production_stack.start_web()
    production_stack.wait_ready()
    return production_stack


@pytest.fixture(autouse=True)
def web_serving(request: pytest.FixtureRequest) -> None:
    """Every test that uses the stack, also through a module's fixture of its own (test_spend's
    `spend`), finds gunicorn serving: test_lifecycle stops it with SIGTERM, and xdist may run
    another module's tests after that one on the same worker."""
    if "production_stack" in request.fixturenames:
        request.getfixturevalue("stack")
