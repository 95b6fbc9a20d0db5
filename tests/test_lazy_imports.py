"""Start-up stays cheap: no provider SDK is imported until an adapter is built.

The three SDKs cost seconds of CPU to import, paid by every manage.py command, Celery worker
and gunicorn worker. PydanticAI (the optional bridge, chat.integrations.pydantic_ai) is held to
the same rule: only code that uses the bridge imports it. Each check runs in a fresh
interpreter, since this test process has long since imported them all.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("openai", "anthropic", "google.genai", "google.auth", "boto3", "botocore", "pydantic_ai")

# Loads what every process loads: Django, the URLconf, the admin, the Celery app and its
# task modules, the adapter registry; runs `manage.py check`; prints the SDKs it imported.
START_UP = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.urls import get_resolver
get_resolver().url_patterns
from config.celery import app
app.loader.import_default_modules()
from providers.adapters import registry
call_command("check", verbosity=0)
{after}
print(json.dumps(sorted(m for m in {sdks} if m in sys.modules)))
"""


def _env() -> dict[str, str]:
    """A plain environment: the test settings, and the same database and Redis as this run."""
    passed = {k: v for k, v in os.environ.items() if k in ("DATABASE_URL", "REDIS_URL")}
    return {"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin", **passed}


def _printed(code: str, **env: str) -> Any:
    """What `code`, run in a fresh interpreter, printed last (as JSON)."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**_env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _sdks_imported(after: str = "") -> list[str]:
    return _printed(START_UP.format(after=after, sdks=repr(SDKS)))


def test_start_up_imports_no_provider_sdk() -> None:
    assert _sdks_imported() == []


def test_manage_py_check_imports_no_provider_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "manage.py", "check"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "django" in imported  # the importtime report was read
    assert sorted(imported & set(SDKS)) == []
    assert "config.celery" not in imported  # Celery's own processes load the app
    assert "redis" not in imported  # loaded by the first use of the cache or the limiter


# A process started, then using the shared cache: which errors count as an outage, before
# and after redis-py is loaded.
OUTAGE_ERRORS = """
import json, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
from config.generation_cache import cache_errors
from config.outages import unavailable_errors
names = lambda errors: sorted(e.__module__ + "." + e.__name__ for e in errors)
shown = {"loaded": "redis" in sys.modules, "cache": names(cache_errors()),
         "outage": names(unavailable_errors())}
from django.core.cache import cache
cache.get("lazy-imports-probe")
shown["after"] = {"loaded": "redis" in sys.modules, "cache": names(cache_errors()),
                  "outage": names(unavailable_errors())}
print(json.dumps(shown))
"""


def test_outage_errors_name_redis_py_once_it_is_loaded() -> None:
    shown = _printed(OUTAGE_ERRORS)
    database = ["django.db.utils.InterfaceError", "django.db.utils.OperationalError"]
    assert shown["loaded"] is False
    assert (shown["cache"], shown["outage"]) == (["builtins.OSError"], database)
    if not os.environ.get("REDIS_URL"):
        assert shown["after"]["loaded"] is False  # the file cache never loads it
        return
    assert shown["after"] == {
        "loaded": True,
        "cache": ["builtins.OSError", "redis.exceptions.RedisError"],
        "outage": sorted(
            [
                *database,
                "redis.exceptions.ConnectionError",
                "redis.exceptions.OutOfMemoryError",
                "redis.exceptions.ReadOnlyError",
                "redis.exceptions.TimeoutError",
            ]
        ),
    }


# A web process: started without the Celery app; Celery's fallback app made first (by a library
# resolving `current_app`), then the project's app loaded by a page that needs it
# (config/audit/beat_admin.py), in one thread; what another thread's `current_app` is.
CELERY_APP_LATE = """
import json, threading
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
import sys
from celery import current_app
at_start = ("config.celery" in sys.modules, current_app.main)
import config.celery
seen = {}
thread = threading.Thread(target=lambda: seen.update(main=current_app.main,
                                                     broker=current_app.conf.broker_url))
thread.start()
thread.join()
from celery.app.utils import find_app
print(json.dumps({"at_start": at_start, "other_thread": seen, "found": find_app("config").main}))
"""


def test_the_celery_app_is_loaded_when_used_and_then_every_threads_current_app() -> None:
    shown = _printed(CELERY_APP_LATE, REDIS_URL="redis://127.0.0.1:6379/5")
    assert shown["at_start"] == [False, "default"]  # Celery's fallback: no broker of ours
    assert shown["other_thread"] == {"main": "control_plane", "broker": "redis://127.0.0.1:6379/5"}
    assert shown["found"] == "control_plane"  # what `celery -A config` loads


@pytest.mark.parametrize(
    ("kind", "sdk"),
    [
        ("openai", ["openai"]),
        ("anthropic", ["anthropic"]),
        ("gemini", ["google.auth", "google.genai"]),
        ("azure_openai", ["openai"]),
        ("vertex", ["anthropic", "google.auth", "google.genai"]),
        ("bedrock", ["anthropic", "botocore"]),
    ],
)
def test_looking_up_an_adapter_imports_only_its_sdk(kind: str, sdk: list[str]) -> None:
    after = f"registry.adapter_class_for({kind!r})"
    assert _sdks_imported(after) == sdk


def test_the_lazy_registry_still_maps_every_kind_and_refuses_unknown_ones() -> None:
    from providers.adapters.errors import InvalidRequestError
    from providers.adapters.openai_adapter import OpenAIAdapter
    from providers.adapters.registry import ADAPTERS, adapter_class_for

    assert sorted(ADAPTERS) == [
        "anthropic",
        "azure_openai",
        "bedrock",
        "gemini",
        "openai",
        "openai_compatible",
        "vertex",
    ]
    assert adapter_class_for("openai_compatible") is adapter_class_for("openai") is OpenAIAdapter
    with pytest.raises(
        InvalidRequestError, match="known kinds: anthropic, azure_openai, bedrock, gemini"
    ):
        adapter_class_for("cohere")
