"""The dashboard says when usage was last rolled up and how many calls are not counted yet,
offers "Roll up now" to staff who may change daily usage, and prints costs sensibly."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from tests.usage.records import make_record
from usage.admin.format import usd
from usage.models import DailyUsage
from usage.services.rollup import usage_rollup_recent

pytestmark = pytest.mark.django_db
PAGE = "/admin/usage/dailyusage/dashboard/"
ROLLUP = "/admin/usage/dailyusage/dashboard/rollup/"


def _staff(client, staff_user, *codenames):
    staff_user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(staff_user)
    return client


def test_page_says_calls_are_not_counted_yet_and_roll_up_now_counts_them(client, staff_user):
    viewer = _staff(client, staff_user, "view_dailyusage", "change_dailyusage")
    html = viewer.get(PAGE).content.decode()
    assert "Not rolled up yet." in html

    make_record(created_at=timezone.now(), cost=Decimal("0.0031234567"))
    make_record(created_at=timezone.now(), cost=Decimal("0.0020000000"))
    html = viewer.get(PAGE + "?provider=openai").content.decode()
    assert "<strong>2</strong> calls since then are not counted yet" in html
    assert 'id="usage-rollup-now"' in html
    today = timezone.now().date().isoformat()
    data = viewer.get(PAGE + "data/", {"from": today, "to": today}).json()
    assert data["totals"]["requests"] == 0  # what the page warns about

    response = viewer.post(ROLLUP, {"query": "provider=openai"})
    assert response.status_code == 302
    assert response["Location"] == PAGE + "?provider=openai"
    page = viewer.get(response["Location"])
    html = page.content.decode()
    # Just after midnight the run covers yesterday too (late records): "Rolled up <d>, <today>."
    (message,) = [str(m) for m in page.context["messages"]]
    assert message.startswith("Rolled up ") and message.endswith(f"{today}.")
    assert "Rolled up <time" in html and "not counted yet" not in html
    data = viewer.get(PAGE + "data/", {"from": today, "to": today}).json()
    assert data["totals"]["requests"] == 2
    assert Decimal(data["totals"]["cost"]) == Decimal("0.0051234567")


def test_roll_up_now_needs_the_permission_and_a_post(client, staff_user):
    viewer = _staff(client, staff_user, "view_dailyusage")
    make_record(created_at=timezone.now())
    html = viewer.get(PAGE).content.decode()
    assert "<strong>1</strong> call since then is not counted yet" in html
    assert 'id="usage-rollup-now"' not in html
    assert viewer.post(ROLLUP).status_code == 403
    assert not DailyUsage.objects.exists()
    staff_user.user_permissions.add(Permission.objects.get(codename="change_dailyusage"))
    assert viewer.get(ROLLUP).status_code == 405


def test_the_freshness_line_counts_only_records_after_the_last_rollup(client, staff_user):
    viewer = _staff(client, staff_user, "view_dailyusage")
    make_record(created_at=timezone.now())
    usage_rollup_recent()
    html = viewer.get(PAGE).content.decode()
    assert "Rolled up <time" in html and "not counted yet" not in html
    # After the mark: a record written late, its created_at before the last run, still counts.
    # (An hour earlier, but not before today's midnight: in the first hour of a UTC day that
    # would be yesterday, which the frequent run does not show as today's backlog.)
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    make_record(created_at=max(timezone.now() - timedelta(hours=1), midnight))
    html = viewer.get(PAGE).content.decode()
    assert "<strong>1</strong> call since then is not counted yet" in html
    usage_rollup_recent()
    assert "not counted yet" not in viewer.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("2.0000000001"), "2.00"),
        (Decimal("0.0012345678"), "0.001235"),
        (Decimal("0.5"), "0.50"),
        (Decimal("0.0000004"), "0.00"),
        (Decimal("123.4567891"), "123.456789"),
        (Decimal("0"), "0.00"),
        (None, "-"),
    ],
)
def test_usd_prints_at_most_six_decimals(value, shown):
    assert usd(value) == shown


def test_admin_lists_show_costs_without_ten_decimals(admin_client):
    make_record(created_at=timezone.now(), cost=Decimal("0.0012345678"))
    usage_rollup_recent()
    for url in ("/admin/usage/usagerecord/", "/admin/usage/dailyusage/"):
        html = admin_client.get(url).content.decode()
        assert "0.001235" in html
        assert "0.0012345678" not in html


@pytest.mark.parametrize(
    "url",
    ["/admin/providers/modelconfig/", "/admin/usage/usagerecord/", "/admin/usage/dailyusage/"],
)
def test_wide_lists_load_the_laptop_layout(admin_client, url):
    """The layout itself is measured at 1,366 px in tests/browser/test_admin_lists.py."""
    html = admin_client.get(url).content.decode()
    assert "admin_lists/lists.css" in html
