"""Attribution from the request to the report: `user`, `metadata` and `x-tags` sent with the
openai SDK (and to the native API) are kept on the usage records, rolled up per end user and
tag, read back through the usage API (JSON and CSV), and a tag-scoped budget holds and charges
only the calls carrying its tag."""

import csv
import io
from decimal import Decimal

import openai
import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.ledger_wait import ledger_read_until
from usage.business_days import business_today
from usage.models import Budget, BudgetPeriod, DailyTagUsage, DailyUsage, UsageRecord
from usage.services.reconcile import usage_reconcile_day
from usage.services.rollup import usage_rollup_recent

pytestmark = pytest.mark.django_db(transaction=True)
HI = [{"role": "user", "content": "Say hi"}]


@pytest.fixture
def client(live_server, openai_fake):
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("assistant", model)
    _, secret = ConsumerAPIKey.objects.create_key(name="attribution")
    with openai.OpenAI(
        api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0, timeout=20
    ) as sdk:
        yield sdk


@pytest.fixture
def staff_api(staff_user):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_dailyusage"))
    api = APIClient()
    api.force_authenticate(staff_user)
    return api


def _daily(api, **params):
    today = business_today().isoformat()
    response = api.get("/api/usage/daily/", {"from": today, "to": today, **params})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_user_metadata_and_x_tags_reach_records_rollups_and_the_usage_api(client, staff_api):
    client.chat.completions.create(
        model="assistant",
        messages=HI,
        user="customer-42",
        metadata={"feature": "search", "tenant": "acme"},
        extra_headers={"x-tags": "beta, feature:search"},
    )
    client.chat.completions.create(
        model="assistant", messages=HI, stream=True, user="customer-42"
    ).close()
    client.chat.completions.create(model="assistant", messages=HI)

    # The stream closed unread is recorded when the server's thread finishes it, which may be
    # after the third call.
    rows = ledger_read_until(
        lambda: list(UsageRecord.objects.order_by("id")), lambda rows: len(rows) == 3
    )
    (streamed,) = (row for row in rows if row.streamed)
    tagged, plain = (row for row in rows if not row.streamed)
    assert (tagged.end_user, tagged.tags) == (
        "customer-42",
        ["beta", "feature:search", "tenant:acme"],  # sorted, the duplicate once
    )
    assert (streamed.end_user, streamed.tags) == ("customer-42", [])
    assert (plain.end_user, plain.tags) == ("", [])

    usage_rollup_recent()
    assert {(r.end_user, r.requests) for r in DailyUsage.objects.all()} == {
        ("customer-42", 2),
        ("", 1),
    }
    assert sorted(DailyTagUsage.objects.values_list("tag", "requests")) == [
        ("beta", 1),
        ("feature:search", 1),
        ("tenant:acme", 1),
    ]
    assert usage_reconcile_day(day=business_today()) == []

    by_user = {row["group"]: row["requests"] for row in _daily(staff_api, group_by="end_user")}
    assert by_user == {"customer-42": 2, "(none)": 1}
    by_tag = {row["group"]: row["cost"] for row in _daily(staff_api, group_by="tag")}
    assert set(by_tag) == {"beta", "feature:search", "tenant:acme"}
    assert Decimal(by_tag["feature:search"]) == tagged.cost
    [search] = _daily(staff_api, tag="feature:search")
    assert search["requests"] == 1
    [customer] = _daily(staff_api, end_user="customer-42", group_by="model")
    assert customer["requests"] == 2
    [anonymous] = _daily(staff_api, end_user="")
    assert anonymous["requests"] == 1
    assert _daily(staff_api, tag="no-such-tag") == []

    today = business_today().isoformat()
    response = staff_api.get(
        "/api/usage/daily.csv", {"from": today, "to": today, "group_by": "tag"}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {(r["group"], r["requests"]) for r in rows} == {
        ("beta", "1"),
        ("feature:search", "1"),
        ("tenant:acme", "1"),
    }


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"user": "u" * 257}, "user"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"metadata": {"k" * 65: "v"}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"metadata": {"k": "nul\x00byte"}}, "metadata"),
        ({"metadata": {"k": "bell\x07"}}, "metadata"),
        ({"metadata": {" ": "blank key"}}, "metadata"),
        ({"extra_body": {"metadata": ["not", "an", "object"]}}, "metadata"),
        ({"extra_body": {"user": 42}}, "user"),
        ({"extra_headers": {"x-tags": ",".join(f"t{i}" for i in range(17))}}, "x-tags"),
        ({"extra_headers": {"x-tags": "t" * 129}}, "x-tags"),
    ],
)
def test_attribution_beyond_the_limits_is_a_400_naming_the_param(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="assistant", messages=HI, **kwargs)
    assert caught.value.status_code == 400
    assert caught.value.body["param"].startswith(param)  # NUL: the body parser's "metadata.k"
    assert not UsageRecord.objects.exists()


def test_a_tag_budget_refuses_calls_with_its_tag_and_charges_only_them(client):
    spend = Budget.objects.create(
        name="search", scope_type="tag", scope_value="feature:search", limit_usd=Decimal("10")
    )
    client.chat.completions.create(model="assistant", messages=HI, metadata={"feature": "search"})
    client.chat.completions.create(model="assistant", messages=HI, metadata={"feature": "other"})
    client.chat.completions.create(model="assistant", messages=HI)
    tagged = UsageRecord.objects.get(tags=["feature:search"])
    assert BudgetPeriod.objects.get(budget=spend).spent == tagged.cost > 0

    Budget.objects.create(
        name="search-stop",
        scope_type="tag",
        scope_value="feature:search",
        limit_usd=Decimal("0"),
    )
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="assistant", messages=HI, extra_headers={"x-tags": "feature:search"}
        )
    assert caught.value.body["code"] == "budget_exceeded"
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="assistant", messages=HI, metadata={"feature": "search"}
        )
    client.chat.completions.create(model="assistant", messages=HI, metadata={"feature": "other"})
    client.chat.completions.create(model="assistant", messages=HI, extra_headers={"x-tags": "a"})
    assert UsageRecord.objects.count() == 5


def test_the_native_api_takes_the_same_attribution(live_server, openai_fake, staff_user):
    from tests.chat.helpers import use_models_grant

    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("assistant", model)
    api = APIClient()
    api.force_authenticate(use_models_grant(staff_user))
    conversation = api.post("/api/conversations/", {"service": "assistant"}, format="json")
    url = f"/api/conversations/{conversation.json()['id']}/messages/"
    body = {"content": "hi", "user": "customer-7", "metadata": {"feature": "search"}}
    response = api.post(url, body, format="json", HTTP_X_TAGS="beta")
    assert response.status_code == 201, response.content
    record = UsageRecord.objects.get()
    assert (record.end_user, record.tags) == ("customer-7", ["beta", "feature:search"])

    bad = api.post(url, {"content": "hi", "metadata": {"k": 1}}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["details"] == {"param": "metadata"}
    bad = api.post(url, {"content": "hi"}, format="json", HTTP_X_TAGS="bad\ttag")
    assert bad.status_code == 400
    assert bad.json()["error"]["details"] == {"param": "x-tags"}
    assert UsageRecord.objects.count() == 1
