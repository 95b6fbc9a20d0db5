"""The usage API: who may read it, grouping, CSV export and bad input."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from providers.models import ConsumerAPIKey
from tests.usage.records import make_record
from usage.business_days import business_today
from usage.models import DailyUsage
from usage.services.rollup import usage_rollup_range

pytestmark = pytest.mark.django_db

D1, D2 = date(2026, 3, 10), date(2026, 3, 11)


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def data():
    key, _ = ConsumerAPIKey.objects.create_key(name="etl")
    make_record(created_at=_at(D1, 1), cost=Decimal("0.1000000001"), input_tokens=10)
    make_record(created_at=_at(D1, 2), cost=Decimal("0.2"), outcome="timeout", api_key=key)
    make_record(created_at=_at(D1, 3), provider="anthropic", model_string="anthropic:claude-x")
    make_record(created_at=_at(D2, 4), service="summariser", cost=None)
    usage_rollup_range(since=D1, until=D2)
    return key


@pytest.fixture
def staff_client(staff_user):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_dailyusage"))
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


def _daily(client, **params):
    return client.get("/api/usage/daily/", {"from": "2026-03-10", "to": "2026-03-11", **params})


def test_anonymous_gets_401_consumer_key_403_staff_without_permission_403(staff_user, data):
    assert _daily(APIClient()).status_code == 401
    _key, secret = ConsumerAPIKey.objects.create_key(name="program")
    consumer = APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = _daily(consumer)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert consumer.get("/api/usage/summary/").status_code == 403
    unprivileged = APIClient()
    unprivileged.force_authenticate(staff_user)
    assert _daily(unprivileged).status_code == 403


def test_daily_totals_per_day(staff_client, data):
    body = _daily(staff_client).json()
    assert body["since"] == "2026-03-10" and body["group_by"] is None
    first, second = body["results"]
    assert first["day"] == "2026-03-10"
    assert first["requests"] == 3 and first["errors"] == 1
    assert first["error_rate"] == pytest.approx(0.3333)
    assert first["cost"] == "0.3012345679"  # 0.1000000001 + 0.2 + 0.0012345678, as a string
    assert first["input_tokens"] == 210
    assert "group" not in first
    assert (first["latency_ms_mean"], first["latency_ms_p95"]) == (300, 500)  # 300 ms each
    assert second["unpriced_calls"] == 1 and second["cost"] == "0.0000000000"


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("provider", {("2026-03-10", "anthropic"): 1, ("2026-03-10", "openai"): 2}),
        ("model", {("2026-03-10", "anthropic:claude-x"): 1, ("2026-03-10", "openai:gpt-4o"): 2}),
        ("service", {("2026-03-10", "rag_agent"): 3, ("2026-03-11", "summariser"): 1}),
        ("consumer", {("2026-03-10", "(none)"): 2}),
    ],
)
def test_grouping(staff_client, data, group_by, expected):
    rows = _daily(staff_client, group_by=group_by).json()["results"]
    counts = {(r["day"], r["group"]): r["requests"] for r in rows}
    for key, value in expected.items():
        assert counts[key] == value
    assert sum(counts.values()) == 4


def test_consumer_group_names_the_key_by_name_and_prefix_never_its_id(staff_client, data):
    rows = _daily(staff_client, group_by="consumer", to="2026-03-10").json()["results"]
    labels = {r["group"] for r in rows}
    assert labels == {"(none)", f"etl ({data.prefix})"}
    assert data.hashed_key not in str(rows)


def test_filters_by_provider_and_service(staff_client, data):
    rows = _daily(staff_client, provider="anthropic").json()["results"]
    assert [r["requests"] for r in rows] == [1]
    rows = _daily(staff_client, service="summariser").json()["results"]
    assert [(r["day"], r["requests"]) for r in rows] == [("2026-03-11", 1)]


def test_csv_export_by_suffix_and_by_format(staff_client, data):
    for response in (
        staff_client.get("/api/usage/daily.csv", {"from": "2026-03-10", "to": "2026-03-11"}),
        _daily(staff_client, format="csv", group_by="provider"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["day"], r["group"], r["requests"]) for r in rows] == [
        ("2026-03-10", "anthropic", "1"),
        ("2026-03-10", "openai", "2"),
        ("2026-03-11", "openai", "1"),
    ]
    assert rows[1]["cost"] == "0.3000000001"


def test_csv_neutralises_formulas(staff_client):
    make_record(created_at=_at(D1, 1), service="=HYPERLINK(1)")
    usage_rollup_range(since=D1, until=D1)
    response = staff_client.get(
        "/api/usage/daily.csv", {"from": "2026-03-10", "to": "2026-03-10", "group_by": "service"}
    )
    assert "'=HYPERLINK(1)" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"group_by": "colour"}, "group_by"),
        ({"from": "2026-03-12", "to": "2026-03-10"}, "from"),
        ({"from": "2020-01-01", "to": "2026-03-10"}, "from"),
    ],
)
def test_bad_input_is_a_400_in_the_one_error_shape(staff_client, params, field):
    for path in ("/api/usage/daily/", "/api/usage/daily.csv"):
        response = staff_client.get(path, params)
        assert response.status_code == 400
        assert response["Content-Type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert field in error["details"]["fields"]


def test_summary(staff_client):
    today = business_today()
    now = datetime.now(UTC)
    make_record(created_at=now, cost=Decimal("1.5"), model_string="openai:gpt-4o")
    make_record(created_at=now, cost=Decimal("0.25"), outcome="server_error")
    make_record(created_at=now, cost=Decimal("3"), model_string="openai:o3")
    usage_rollup_range(since=today - timedelta(days=1), until=today)

    body = staff_client.get("/api/usage/summary/").json()

    assert body["today"]["requests"] == 3
    assert Decimal(body["today"]["cost"]) == Decimal("4.75")
    assert body["month_to_date"]["requests"] == 3
    assert body["error_rate"] == pytest.approx(0.3333)
    assert [m["group"] for m in body["top_models"]] == ["openai:o3", "openai:gpt-4o"]
    assert body["top_models"][0]["cost"] == "3.0000000000"
    assert isinstance(body["budgets"], list)
    assert body["rolled_up_at"] is not None


def test_served_from_daily_usage_not_records(staff_client, data):
    DailyUsage.objects.filter(day=D2).update(requests=99)
    rows = _daily(staff_client).json()["results"]
    assert rows[1]["requests"] == 99


def test_extreme_dates_are_handled(staff_client):
    response = _daily(staff_client, **{"from": "9999-12-30", "to": "9999-12-31"})
    assert response.status_code == 200
    assert response.json()["results"] == []
    response = staff_client.get("/api/usage/daily/", {"to": "0001-01-05"})
    assert response.status_code == 400
    assert "to" in response.json()["error"]["details"]["fields"]
