"""Property-based fuzzing of the usage API from its own OpenAPI document (schemathesis 4):
valid and invalid query strings never get a 5xx, and every error is in the one error shape."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis import GenerationMode

from tests.hostile import (
    operation_refuses_hostile_input,
)
from tests.usage.records import make_record
from usage.business_days import business_today
from usage.services.rollup import usage_rollup_day

pytestmark = pytest.mark.django_db

OPERATIONS = [
    ("GET", "/api/usage/daily/"),
    ("GET", "/api/usage/daily.csv"),
    ("GET", "/api/usage/summary/"),
]


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The Django WSGI app, sharing the test's transaction like Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app).include(
        path_regex=r"^/api/usage/"
    )


@pytest.fixture
def staff_token(superuser) -> str:
    make_record(created_at=datetime.now(UTC))
    usage_rollup_day(day=business_today())
    return AuthToken.objects.create(superuser)[1]


def test_every_usage_api_operation_is_fuzzed(api_schema):
    found = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_operation_answers_5xx(method, path, api_schema, staff_token):
    operation = api_schema[path][method]
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    headers = {"Authorization": f"Token {staff_token}"}

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
        if response.status_code >= 400:
            body = json.loads(response.text)
            assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}

    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_hostile_input_is_a_4xx(method, path, api_schema, staff_token, client):
    """Valid requests with one part made hostile (tests.hostile): NUL, surrogates, deep
    nesting, huge numbers, a huge `limit` or `offset`. A body that is read is refused (4xx);
    nothing answers 5xx."""
    headers = {"Authorization": f"Token {staff_token}"}
    operation_refuses_hostile_input(api_schema[path][method], client=client, headers=headers)
