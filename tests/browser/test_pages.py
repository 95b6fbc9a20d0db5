"""The dashboard draws its charts from data, the playground streams a reply, and the wide
admin lists show every column at 1,366 px, in a real browser with no console errors."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from providers.services.catalog import model_catalog_load
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.providers.catalog_factories import provider_create as catalog_provider_create
from tests.usage.records import make_record
from usage.services.rollup import usage_rollup_range

pytestmark = pytest.mark.django_db(transaction=True)
CHARTS = ("chart-cost", "chart-tokens", "chart-models", "chart-consumers")


def _usage() -> None:
    now = timezone.now()
    for days_ago, provider, cost in [
        (0, "openai", "0.0123"),
        (0, "anthropic", "0.5"),
        (2, "openai", "1.25"),
    ]:
        for _ in range(3):
            make_record(
                created_at=now - timedelta(days=days_ago),
                provider=provider,
                model_string=f"{provider}:model-x",
                cost=Decimal(cost),
            )
    make_record(created_at=now, outcome="timeout", cost=Decimal("0"))
    usage_rollup_range(since=(now - timedelta(days=2)).date(), until=now.date())


def test_dashboard_draws_its_charts_from_the_data(signed_in):
    _usage()
    page = signed_in
    with page.expect_response("**/dashboard/data/**") as data_response:
        page.goto("/admin/usage/dailyusage/dashboard/")
    data = data_response.value.json()
    page.wait_for_function("document.getElementById('usage-status').textContent.includes(' to ')")
    drawn = page.evaluate(
        """(ids) => ids.map((id) => {
            const chart = window.Chart.getChart(document.getElementById(id));
            if (!chart) return null;
            return chart.data.datasets.map((d) => d.data.reduce((a, b) => a + Number(b), 0));
        })""",
        list(CHARTS),
    )
    assert all(sums is not None for sums in drawn), drawn
    cost, tokens, models, consumers = drawn
    assert sum(cost) == pytest.approx(3 * 0.0123 + 3 * 0.5 + 3 * 1.25)
    assert sum(tokens) > 0 and sum(consumers) > 0
    assert models[0] == data["totals"]["requests"] == 10
    totals = page.locator("#usage-totals").inner_text()
    assert "$5.2869" in totals and "10" in totals
    assert "Rolled up" in page.locator("#usage-freshness").inner_text()
    assert page.console_errors == []


def test_playground_streams_a_reply(signed_in, openai_fake):
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("assistant", model)
    page = signed_in
    page.goto("/playground/")
    page.select_option("#pg-model", "assistant")
    page.fill("#pg-input", "Stream a reply please")
    with page.expect_response("**/playground/stream/") as stream:
        page.click("#pg-send")
    assert stream.value.headers["content-type"].startswith("text/event-stream")
    meta = page.locator("#transcript .turn").nth(1).locator(".meta")
    page.wait_for_function(
        "document.querySelectorAll('#transcript .meta')[1]?.textContent.includes('latency')"
    )
    reply = page.locator("#transcript .turn").nth(1).inner_text()
    assert "Stream a reply please" in reply  # the fake echoes the last user message
    described = meta.inner_text()
    assert "served by oa:gpt-4o-mini" in described
    assert "out tokens" in described and "cost $" in described
    assert page.console_errors == []


@pytest.mark.parametrize(
    "url",
    ["/admin/providers/modelconfig/", "/admin/usage/usagerecord/", "/admin/usage/dailyusage/"],
)
def test_wide_admin_lists_show_every_column_at_1366_px(signed_in, url):
    catalog_provider_create("openai", "openai")
    catalog_provider_create("anthropic", "anthropic")
    model_catalog_load()
    _usage()
    page = signed_in
    page.goto(url)
    widths = page.evaluate(
        """() => {
            const box = document.querySelector('.results');
            const table = document.querySelector('#result_list');
            const last = table.querySelector('thead th:last-child').getBoundingClientRect();
            return {box: box.clientWidth, table: table.scrollWidth, lastRight: last.right,
                    page: document.documentElement.scrollWidth};
        }"""
    )
    assert widths["table"] <= widths["box"], widths
    assert widths["lastRight"] <= 1366 and widths["page"] <= 1366, widths
    assert page.console_errors == []
