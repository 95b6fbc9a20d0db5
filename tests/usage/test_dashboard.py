"""The admin usage dashboard, its data endpoint, and the read-only ledger admin."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.db.models import Count, Sum
from django.urls import reverse

from providers.models import ConsumerAPIKey
from tests.usage.records import make_record
from usage.models import UsageRecord
from usage.services.rollup import usage_rollup_range

pytestmark = pytest.mark.django_db

D1, D2 = date(2026, 3, 10), date(2026, 3, 11)
PAGE = "/admin/usage/dailyusage/dashboard/"
DATA = "/admin/usage/dailyusage/dashboard/data/"


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def records():
    key, _ = ConsumerAPIKey.objects.create_key(name="nightly-etl")
    make_record(created_at=_at(D1, 1), cost=Decimal("0.1234567891"), api_key=key)
    make_record(created_at=_at(D1, 2), cost=Decimal("0.5"), outcome="timeout", latency_ms=9000)
    make_record(
        created_at=_at(D1, 3),
        provider="anthropic",
        model_string="anthropic:claude-x",
        cost=Decimal("2.0000000001"),
        cached_input_tokens=40,
        service="summariser",
    )
    make_record(created_at=_at(D2, 4), reasoning_tokens=7, api_key=key)
    make_record(created_at=_at(D2, 5), cost=None, output_tokens=3)
    usage_rollup_range(since=D1, until=D2)
    return key


@pytest.fixture
def viewer(client, staff_user):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_dailyusage"))
    client.force_login(staff_user)
    return client


def _data(client, **params):
    return client.get(DATA, {"from": "2026-03-10", "to": "2026-03-11", **params})


def test_page_renders_with_filters_and_the_local_chart_js(viewer, records):
    response = viewer.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "usage/vendor/chart.umd.js" in html
    # Nothing loaded from another host (a bare "cdn" check also matched a CSRF token).
    assert not re.findall(r'(?:src|href)="((?:[a-z]+:)?//[^"]*)"', html, re.IGNORECASE)
    for canvas in ("chart-cost", "chart-tokens", "chart-models", "chart-consumers"):
        assert f'id="{canvas}"' in html
    assert f'data-url="{DATA}"' in html
    assert '<option value="anthropic"' in html and '<option value="summariser"' in html
    assert finders.find("usage/vendor/chart.umd.js")
    assert finders.find("usage/dashboard.js")
    assert reverse("admin:usage_dailyusage_dashboard") == PAGE


def test_data_endpoint_figures_match_the_records(viewer, records):
    data = _data(viewer).json()

    assert data["days"] == ["2026-03-10", "2026-03-11"]
    raw = UsageRecord.objects.aggregate(
        n=Count("id"), cost=Sum("cost"), cached=Sum("cached_input_tokens")
    )
    assert data["totals"]["requests"] == raw["n"] == 5
    assert Decimal(data["totals"]["cost"]) == raw["cost"]
    cost = {row["provider"]: [Decimal(c) for c in row["cost"]] for row in data["cost_by_provider"]}
    for provider, series in cost.items():
        for day, value in zip((D1, D2), series, strict=True):
            expected = UsageRecord.objects.filter(
                provider=provider, created_at__date=day
            ).aggregate(c=Sum("cost"))["c"] or Decimal(0)
            assert value == expected
    assert data["requests_by_day"] == [3, 2]
    assert data["tokens_by_day"]["cached_input_tokens"] == [40, 0]
    assert data["tokens_by_day"]["reasoning_tokens"] == [0, 7]
    models = {m["group"]: m for m in data["models"]}
    assert models["openai:gpt-4o"]["requests"] == 4
    assert models["openai:gpt-4o"]["error_rate"] == 0.25
    consumers = {c["group"]: c for c in data["top_consumers"]}
    assert consumers[f"nightly-etl ({records.prefix})"]["requests"] == 2
    assert records.hashed_key not in str(data)
    assert data["totals"]["unpriced_calls"] == 1


def test_data_endpoint_filters(viewer, records):
    data = _data(viewer, provider="anthropic").json()
    assert data["totals"]["requests"] == 1
    assert [row["provider"] for row in data["cost_by_provider"]] == ["anthropic"]
    data = _data(viewer, service="summariser", provider="").json()
    assert data["totals"]["requests"] == 1


def test_data_endpoint_shows_budget_status(viewer, records):
    from usage.models import Budget

    Budget.objects.create(name="org monthly", scope_type="global", limit_usd=Decimal("100"))
    budgets = _data(viewer).json()["budgets"]
    assert [b["name"] for b in budgets] == ["org monthly"]
    assert budgets[0]["limit"] == "100.0000"
    assert {"scope", "period", "spent", "reserved", "percent", "resets_at"} <= budgets[0].keys()


def test_data_endpoint_rejects_bad_filters(viewer):
    response = _data(viewer, to="2026-02-30")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "to" in response.json()["error"]["details"]["fields"]


def test_only_staff_with_the_view_permission(client, staff_user, django_user_model):
    assert client.get(DATA).status_code == 302  # to the admin login
    client.force_login(staff_user)  # staff, but no permission on DailyUsage
    assert client.get(PAGE).status_code == 403
    assert client.get(DATA).status_code == 403
    member = django_user_model.objects.create_user(username="member", password="x-pass-123")
    client.force_login(member)
    assert client.get(DATA).status_code == 302


def test_admin_index_links_the_dashboard_and_playground(viewer):
    html = viewer.get("/admin/").content.decode()
    assert PAGE in html
    assert 'href="/playground/"' in html


def test_usage_record_admin_is_read_only(client, superuser, records):
    client.force_login(superuser)
    record = UsageRecord.objects.first()
    changelist = client.get("/admin/usage/usagerecord/", {"provider": "openai", "streamed": "0"})
    assert changelist.status_code == 200
    assert client.get("/admin/usage/usagerecord/", {"q": record.request_id}).status_code == 200
    assert client.get("/admin/usage/usagerecord/add/").status_code == 403
    detail = client.get(f"/admin/usage/usagerecord/{record.pk}/change/")
    assert detail.status_code == 200
    assert records.hashed_key not in detail.content.decode()
    response = client.post(f"/admin/usage/usagerecord/{record.pk}/change/", {"service": "x"})
    assert response.status_code == 403
    assert client.post(f"/admin/usage/usagerecord/{record.pk}/delete/").status_code == 403
    assert client.get("/admin/usage/dailyusage/").status_code == 200
    assert client.get("/admin/usage/dailyusage/add/").status_code == 403


def test_data_endpoint_at_the_end_of_the_calendar(viewer):
    data = _data(viewer, **{"from": "9999-12-30", "to": "9999-12-31"}).json()
    assert data["days"] == ["9999-12-30", "9999-12-31"]
    assert data["requests_by_day"] == [0, 0]


def test_usage_records_filter_by_estimated_usage(client, superuser):
    """Staff can list the attempts whose usage the service estimated (cut streams, replies
    without usage), to see how much of the spend is not the provider's own count."""
    from django.utils import timezone

    from tests.usage.records import make_record

    estimated = make_record(created_at=timezone.now(), usage_estimated=True, streamed=True)
    counted = make_record(created_at=timezone.now())
    client.force_login(superuser)
    page = client.get("/admin/usage/usagerecord/", {"usage_estimated__exact": "1"})
    assert page.status_code == 200
    listed = {row.pk for row in page.context["cl"].result_list}
    assert listed == {estimated.pk} and counted.pk not in listed
