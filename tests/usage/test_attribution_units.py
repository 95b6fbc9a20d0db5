"""Attribution parsing, tag budget scopes and the usage API's end-user and tag parameters."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from config.errors import InvalidInput
from tests.usage.records import make_record
from usage.attribution import Attribution, attribution_parse
from usage.budgets import budget_reserve, budget_settle
from usage.limits_cache import scope_matches
from usage.models import Budget
from usage.services.reconcile import budget_reconcile
from usage.types import CallScope


def test_tags_from_metadata_and_the_header_are_one_sorted_set():
    parsed = attribution_parse(
        user="u-1", metadata={"b": " x ", "a": "y"}, tags_header=" b:x ,, z ,"
    )
    assert parsed == Attribution(end_user="u-1", tags=("a:y", "b:x", "z"))
    assert attribution_parse(user=None, metadata=None, tags_header=None) == Attribution()
    assert attribution_parse(user="", metadata={}, tags_header="") == Attribution()


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"user": "a\nb"}, "user"),
        ({"metadata": {"": "v"}}, "metadata"),
        ({"metadata": {"k": "\x1b[31m"}}, "metadata"),
        ({"tags_header": "ok, bad\x7f"}, "x-tags"),
    ],
)
def test_bad_attribution_is_invalid_input_naming_the_param(kwargs, param):
    arguments = {"user": None, "metadata": None, "tags_header": None, **kwargs}
    with pytest.raises(InvalidInput) as caught:
        attribution_parse(**arguments)
    assert caught.value.http_status == 400
    assert caught.value.details == {"param": param}


def test_a_tag_scope_matches_calls_carrying_the_tag():
    scope = CallScope(service="s", tags=("beta", "feature:search"))
    assert scope_matches("tag", "feature:search", scope)
    assert not scope_matches("tag", "feature", scope)
    assert not scope_matches("tag", "feature:search", CallScope(service="s"))


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", " padded", "t" * 578, "tab\there"])
def test_a_tag_budget_needs_a_valid_tag(value):
    budget = Budget(name="b", scope_type="tag", scope_value=value, limit_usd=Decimal("1"))
    with pytest.raises(ValidationError) as caught:
        budget.full_clean()
    assert "scope_value" in caught.value.message_dict
    Budget(name="b", scope_type="tag", scope_value="feature:search", limit_usd=1).full_clean()


@pytest.mark.django_db
def test_budget_reconcile_sums_only_the_tagged_records():
    budget = Budget.objects.create(
        name="search", scope_type="tag", scope_value="feature:search", limit_usd=Decimal("5")
    )
    Budget.objects.filter(pk=budget.pk).update(created_at=timezone.now() - timedelta(hours=1))
    tagged = CallScope(service="s", tags=("feature:search",))
    reservation = budget_reserve(scope=tagged, amount=Decimal("1"), reservation_id="r1")
    assert budget_reserve(scope=CallScope(service="s"), amount=Decimal("1")) is None
    now = timezone.now()
    make_record(created_at=now, request_id="r1", tags=["feature:search"], cost=Decimal("0.5"))
    make_record(created_at=now, request_id="r2", tags=["other"], cost=Decimal("0.25"))
    budget_settle(reservation=reservation, actual_cost=Decimal("0.5"))
    assert budget_reconcile() == []
    make_record(created_at=now, request_id="r3", tags=["feature:search"], cost=Decimal("0.1"))
    [drift] = budget_reconcile()
    assert (drift.spent, drift.ledger) == (Decimal("0.5"), Decimal("0.6"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params", [{"tag": "t" * 578}, {"end_user": "u" * 257}, {"group_by": "tags"}]
)
def test_the_usage_api_refuses_bad_attribution_filters(staff_user, params):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_dailyusage"))
    api = APIClient()
    api.force_authenticate(staff_user)
    response = api.get("/api/usage/daily/", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
