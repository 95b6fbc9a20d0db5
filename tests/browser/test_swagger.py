"""Swagger UI at /api/docs/ lists the API's operations with nothing fetched from another host
(the page fixture refuses every request that is not for the live server)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_swagger_ui_lists_the_operations_offline(signed_in, live_server):
    page = signed_in
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(live_server.url) else outside.append(request.url)
        ),
    )
    page.goto("/api/docs/")
    page.wait_for_selector(".opblock .opblock-summary-path")
    paths = set(page.locator(".opblock .opblock-summary-path").all_inner_texts())
    assert {"/api/conversations/", "/api/models/available/"} <= {p.strip() for p in paths}
    assert len(paths) >= 10
    assert "Authorization: Bearer <key>" in page.locator(".info").inner_text()
    assert outside == []
    assert page.console_errors == []
