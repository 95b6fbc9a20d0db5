"""Admin pages for budgets, rate limits and budget alerts."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from usage.budgets import budget_reserve, budget_settle
from usage.models import Budget, BudgetAlert, RateLimit
from usage.types import CallScope

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client, superuser):
    client.force_login(superuser)
    return client


def test_budget_list_shows_the_current_period_spend(admin_client_) -> None:
    Budget.objects.create(
        name="rag-monthly", scope_type="service", scope_value="rag_agent", limit_usd=Decimal("8")
    )
    Budget.objects.create(
        name="all-daily", scope_type="global", period="daily", limit_usd=Decimal("100")
    )
    reservation = budget_reserve(scope=CallScope(service="rag_agent"), amount=Decimal("3"))
    budget_settle(reservation=reservation, actual_cost=Decimal("2"))
    budget_reserve(scope=CallScope(service="rag_agent"), amount=Decimal("1.5"))

    page = admin_client_.get(reverse("admin:usage_budget_changelist")).content.decode()
    assert "rag-monthly" in page and "service:rag_agent" in page
    assert "2.0000" in page  # spent
    assert "1.5000" in page  # reserved
    assert "25.0 %" in page  # of 8 USD
    assert "2.0 %" in page  # the daily global budget: 2 of 100


def test_budget_form_validates_the_scope(admin_client_) -> None:
    response = admin_client_.post(
        reverse("admin:usage_budget_add"),
        {
            "name": "bad",
            "scope_type": "user",
            "scope_value": "999",
            "period": "monthly",
            "limit_usd": "5",
            "alert_thresholds": "[50, 80]",
            "hard": "on",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "No user has this id." in response.content.decode()
    assert not Budget.objects.exists()


def test_a_tag_budget_is_created_through_the_admin_form(admin_client_) -> None:
    form = {
        "name": "search",
        "scope_type": "tag",
        "scope_value": "feature:search",
        "period": "daily",
        "limit_usd": "5",
        "alert_thresholds": "[80]",
        "hard": "on",
        "active": "on",
    }
    response = admin_client_.post(reverse("admin:usage_budget_add"), form)
    assert response.status_code == 302, response.content
    budget = Budget.objects.get()
    assert budget.scope_label == "tag:feature:search"
    page = admin_client_.get(reverse("admin:usage_budget_changelist")).content.decode()
    assert "tag:feature:search" in page
    response = admin_client_.post(
        reverse("admin:usage_budget_add"), {**form, "name": "bad", "scope_value": "a\tb"}
    )
    assert response.status_code == 200
    assert "control characters" in response.content.decode()


@pytest.mark.parametrize(
    ("scope_type", "scope_value", "thresholds", "field"),
    [
        ("global", "x", [50], "scope_value"),
        ("service", "", [50], "scope_value"),
        ("consumer_key", "nope", [50], "scope_value"),
        ("global", "", ["fifty"], "alert_thresholds"),
        ("global", "", [0], "alert_thresholds"),
    ],
)
def test_budget_clean_rejects_bad_input(scope_type, scope_value, thresholds, field) -> None:
    budget = Budget(
        name="b",
        scope_type=scope_type,
        scope_value=scope_value,
        limit_usd=Decimal("1"),
        alert_thresholds=thresholds,
    )
    with pytest.raises(ValidationError) as caught:
        budget.full_clean()
    assert field in caught.value.message_dict


def test_budget_clean_sorts_thresholds() -> None:
    budget = Budget(
        name="b", scope_type="global", limit_usd=Decimal("1"), alert_thresholds=[80, 50, 80]
    )
    budget.full_clean()
    assert budget.alert_thresholds == [50, 80]


def test_rate_limit_needs_a_limit(admin_client_) -> None:
    limit = RateLimit(scope_type="service", scope_value="rag_agent")
    with pytest.raises(ValidationError):
        limit.full_clean()
    RateLimit.objects.create(scope_type="service", scope_value="rag_agent", requests_per_minute=60)
    page = admin_client_.get(reverse("admin:usage_ratelimit_changelist")).content.decode()
    assert "rag_agent" in page


def test_budget_alerts_are_listed_read_only(admin_client_) -> None:
    budget = Budget.objects.create(name="team", scope_type="global", limit_usd=Decimal("10"))
    alert = BudgetAlert.objects.create(
        budget=budget,
        period_start=date(2026, 1, 1),
        threshold=80,
        spent=Decimal("8.1"),
        limit_usd=Decimal("10"),
    )
    page = admin_client_.get(reverse("admin:usage_budgetalert_changelist")).content.decode()
    assert "team" in page and "80" in page
    assert admin_client_.get(reverse("admin:usage_budgetalert_add")).status_code == 403
    detail = admin_client_.get(reverse("admin:usage_budgetalert_change", args=[alert.pk]))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
