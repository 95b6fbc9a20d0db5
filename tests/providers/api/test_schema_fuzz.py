"""Property-based fuzzing of the providers API from its own OpenAPI document (schemathesis 4).

Every operation under /api/providers, /api/models, /api/selections and /api/groups gets a
bounded number of generated requests, valid and invalid, against the Django WSGI app with a
staff token; none may answer 5xx, every error must be in the one error shape, and no
provider key may leak.
Outbound connections are confined to this machine, so a generated base_url goes nowhere.
"""

import json
import socket
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis import GenerationMode

from providers.services.group import model_group_upsert
from tests.hostile import (
    operation_refuses_hostile_input,
)
from tests.providers.api.conftest import ANTHROPIC_KEY, OPENAI_KEY

pytestmark = pytest.mark.django_db

FUZZED_PREFIX = r"^/api/(providers|models|selections|groups)/"
OPERATIONS = [
    ("GET", "/api/providers/"),
    ("POST", "/api/providers/"),
    ("GET", "/api/providers/{slug}/"),
    ("PUT", "/api/providers/{slug}/"),
    ("PATCH", "/api/providers/{slug}/"),
    ("DELETE", "/api/providers/{slug}/"),
    ("GET", "/api/providers/{slug}/models/"),
    ("POST", "/api/providers/{slug}/test/"),
    ("POST", "/api/providers/test/"),
    ("GET", "/api/models/"),
    ("GET", "/api/models/available/"),
    ("GET", "/api/selections/"),
    ("GET", "/api/selections/{service}/"),
    ("PUT", "/api/selections/{service}/"),
    ("PATCH", "/api/selections/{service}/"),
    ("GET", "/api/groups/"),
    ("GET", "/api/groups/{name}/"),
    ("PUT", "/api/groups/{name}/"),
    ("DELETE", "/api/groups/{name}/"),
]
EXISTING = {
    "slug": ["openai", "anthropic"],
    "service": ["rag_agent", "embeddings"],
    "name": ["pool"],
}


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
def local_network_only(monkeypatch) -> None:
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, "fuzzing: only local hosts are reachable")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def api_schema(wsgi_app, local_network_only):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app).include(
        path_regex=FUZZED_PREFIX
    )


@pytest.fixture
def staff_token(superuser, selections) -> str:
    model_group_upsert(name="pool", members=[{"model": "openai:gpt-4.1", "weight": 2}])
    return AuthToken.objects.create(superuser)[1]


def test_every_providers_api_operation_is_fuzzed(api_schema):
    found = {
        (result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()
    }
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_operation_answers_5xx(method, path, api_schema, staff_token):
    operation = api_schema[path][method]
    names = [name for name in EXISTING if "{" + name + "}" in path]
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    for name in names:
        for value in EXISTING[name]:
            strategies.append(operation.as_strategy(path_parameters={name: value}))
    headers = {"Authorization": f"Token {staff_token}"}

    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
        text = response.text
        assert OPENAI_KEY not in text and ANTHROPIC_KEY not in text
        if response.status_code >= 400:  # every error, even an unrouted path, in one shape
            body = json.loads(text)
            assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}

    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_hostile_input_is_a_4xx(method, path, api_schema, staff_token, client):
    """Valid requests with one part made hostile (tests.hostile): NUL, surrogates, deep
    nesting, huge numbers, a huge `limit` or `offset`. A body that is read is refused (4xx);
    nothing answers 5xx."""
    headers = {"Authorization": f"Token {staff_token}"}
    operation_refuses_hostile_input(api_schema[path][method], client=client, headers=headers)
