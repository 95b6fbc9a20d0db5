"""The browser's middlewares (config.browser_middleware) run everywhere but on the APIs that
only consumer keys call: sessions, CSRF, users, frame options and lockouts still guard admin."""

import pytest
from django.core.checks import run_checks
from django.test import Client

from config.browser_middleware import browser_middleware_check


@pytest.mark.django_db
def test_key_apis_ignore_the_session_and_pages_keep_it(admin_client):
    # A staff session is not a consumer key: /v1 and /anthropic ask for a key all the same,
    # and answer without touching the session (no Vary: Cookie, no frame options).
    for path in ("/v1/models", "/anthropic/v1/models"):
        response = admin_client.get(path)
        assert response.status_code == 401, path
        assert "Cookie" not in response.get("Vary", "")
        assert not response.has_header("X-Frame-Options")
    page = admin_client.get("/admin/")
    assert page.status_code == 200  # the session user, through the browser middlewares
    assert page["X-Frame-Options"] == "DENY"
    assert "Cookie" in page["Vary"]


@pytest.mark.django_db
def test_csrf_still_guards_the_sign_in_form():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403  # CsrfViewMiddleware's process_view, run by the wrapper
    form = client.get("/admin/login/")
    assert form.status_code == 200 and "csrftoken" in form.cookies


def test_the_check_stands_in_for_the_silenced_ones(settings):
    assert browser_middleware_check() == []
    assert not [m for m in run_checks() if m.id.startswith("config.")]
    settings.BROWSER_MIDDLEWARE = [
        m for m in settings.BROWSER_MIDDLEWARE if not m.endswith("SessionMiddleware")
    ]
    assert [m.id for m in browser_middleware_check()] == ["config.E002"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("BrowserMiddleware")]
    assert [m.id for m in browser_middleware_check()] == ["config.E001", "config.E002"]
