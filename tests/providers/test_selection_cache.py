"""Resolution is cached in the shared cache and a change applies to the next call everywhere."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from providers.cache import catalog_generation
from providers.selectors import model_selection_resolve, resolution_local_clear
from providers.services.catalog import model_price_set
from providers.services.selection import model_selection_update, model_selection_upsert
from tests.fixtures import requires_postgres
from tests.providers.catalog_factories import model_create, provider_create

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def two_models(db):
    provider = provider_create("openai", "openai")
    return model_create(provider, "first"), model_create(provider, "second")


def _primary(name: str = "rag_agent") -> str:
    return model_selection_resolve(name=name).candidates[0].model_string


def test_a_change_applies_to_the_next_resolution(two_models, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        selection = model_selection_upsert(service="rag_agent", primary="openai:first", actor=None)
    assert _primary() == "openai:first"

    generation = catalog_generation()
    with django_capture_on_commit_callbacks(execute=True):
        model_selection_update(selection=selection, actor=None, primary="openai:second")

    assert catalog_generation() > generation
    assert _primary() == "openai:second"


def test_a_fresh_resolver_reads_the_shared_cache_and_sees_changes(
    two_models, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=True):
        selection = model_selection_upsert(service="rag_agent", primary="openai:first", actor=None)
    assert _primary() == "openai:first"

    resolution_local_clear()  # a process that never resolved anything itself
    with django_assert_num_queries(0):
        assert _primary() == "openai:first"

    with django_capture_on_commit_callbacks(execute=True):
        model_selection_update(selection=selection, actor=None, primary="openai:second")
    resolution_local_clear()
    assert _primary() == "openai:second"

    # A price change is a catalog change too: the resolved price follows at once.
    with django_capture_on_commit_callbacks(execute=True):
        model_price_set(model=two_models[1], input=Decimal("7"), output=Decimal("9"))
    assert model_selection_resolve(name="rag_agent").candidates[0].prices.input == Decimal("7")


def test_without_a_commit_nothing_is_invalidated(two_models, django_capture_on_commit_callbacks):
    """The bump waits for the commit: a rolled-back change never reaches other processes."""
    with django_capture_on_commit_callbacks(execute=True):
        selection = model_selection_upsert(service="rag_agent", primary="openai:first", actor=None)
    assert _primary() == "openai:first"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        model_selection_update(selection=selection, actor=None, primary="openai:second")
    assert callbacks  # the bump is queued for the commit
    assert _primary() == "openai:first"


RESOLVER_SCRIPT = """
import json, os, sys
import django
django.setup()
from django.conf import settings
from django.test.utils import override_settings
caches = {n: dict(c, KEY_PREFIX=os.environ["CACHE_PREFIX"]) for n, c in settings.CACHES.items()}
with override_settings(CACHES=caches):
    from providers.selectors import model_selection_resolve
    print("ready", flush=True)
    for line in sys.stdin:
        resolved = model_selection_resolve(name=line.strip())
        print(json.dumps([c.model_string for c in resolved.candidates]), flush=True)
"""


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_another_running_process_resolves_the_new_model_at_once():
    provider = provider_create("openai", "openai")
    model_create(provider, "first")
    model_create(provider, "second")
    selection = model_selection_upsert(service="rag_agent", primary="openai:first", actor=None)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "CACHE_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
    }
    process = subprocess.Popen(
        [sys.executable, "-c", RESOLVER_SCRIPT],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"

        def ask() -> list[str]:
            process.stdin.write("rag_agent\n")
            process.stdin.flush()
            return json.loads(process.stdout.readline())

        assert ask() == ["openai:first"]
        assert ask() == ["openai:first"]  # now cached in that process too
        model_selection_update(selection=selection, actor=None, primary="openai:second")
        assert ask() == ["openai:second"]
    finally:
        process.stdin.close()
        process.wait(timeout=10)
