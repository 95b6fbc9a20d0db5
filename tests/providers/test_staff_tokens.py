"""Staff API tokens (knox): created by a command, shown once, stored only as a digest, expiring,
and never shown or editable in admin."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from config.errors import InvalidInput, NotFound
from providers.services.staff_tokens import staff_token_create
from tests.fixtures import confirmed_second_factor

pytestmark = pytest.mark.django_db


def create_token(*args: str) -> tuple[str, str]:
    """Run the command; returns (everything it printed, the token on its last line)."""
    out = StringIO()
    call_command("create_staff_token", *args, stdout=out)
    text = out.getvalue()
    return text, text.strip().splitlines()[-1]


def database_text() -> str:
    """Every value of every row of every table, as one string (what a database dump holds)."""
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


@pytest.fixture
def viewer(staff_user):
    staff_user.user_permissions.add(
        Permission.objects.get(content_type__app_label="providers", codename="view_providerconfig")
    )
    confirmed_second_factor(staff_user)
    return staff_user


def test_command_prints_a_working_token_once(viewer):
    text, token = create_token("staff")
    assert "cannot be shown again" in text
    assert len(token) == 64
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/providers/")
    assert response.status_code == 200, response.content
    row = AuthToken.objects.get(user=viewer)
    assert row.expiry is not None


def test_database_holds_no_row_containing_the_token(viewer):
    _, token = create_token("staff")
    dump = database_text()
    assert AuthToken.objects.filter(user=viewer).exists()
    assert token not in dump
    # Only the lookup prefix is kept in clear, and it cannot authenticate on its own.
    assert token[:15] in dump
    assert token[15:] not in dump
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token[:15]}")
    assert client.get("/api/providers/").status_code == 401


def test_default_ttl_comes_from_settings(viewer, settings):
    settings.REST_KNOX = {"TOKEN_TTL": timedelta(days=3), "AUTO_REFRESH": False}
    create_token("staff")
    expiry = AuthToken.objects.get(user=viewer).expiry
    assert timedelta(days=3) - timedelta(minutes=1) < expiry - timezone.now() <= timedelta(days=3)


def test_ttl_days_sets_the_expiry(viewer):
    text, _ = create_token("staff", "--ttl-days", "7")
    expiry = AuthToken.objects.get(user=viewer).expiry
    assert timedelta(days=7) - timedelta(minutes=1) < expiry - timezone.now() <= timedelta(days=7)
    assert f"expires {expiry:%Y-%m-%d}" in text


def test_expired_token_is_401_and_is_deleted(viewer):
    _, token = create_token("staff", "--ttl-days", "1")
    AuthToken.objects.filter(user=viewer).update(expiry=timezone.now() - timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/providers/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert token not in response.content.decode()
    assert not AuthToken.objects.filter(user=viewer).exists()


def test_use_does_not_extend_the_expiry(viewer):
    _, token = create_token("staff", "--ttl-days", "1")
    before = AuthToken.objects.get(user=viewer).expiry
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/providers/").status_code == 200
    assert AuthToken.objects.get(user=viewer).expiry == before


def test_token_of_a_user_who_lost_staff_is_refused(viewer):
    _, token = create_token("staff")
    type(viewer).objects.filter(pk=viewer.pk).update(is_staff=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/providers/").status_code == 403


@pytest.mark.parametrize(
    ("make_user", "args", "message"),
    [
        (lambda m: m.objects.create_user("plain"), ["plain"], "is not staff"),
        (
            lambda m: m.objects.create_user("gone", is_staff=True, is_active=False),
            ["gone"],
            "is inactive",
        ),
        (lambda m: None, ["nobody"], "No user named 'nobody'"),
        (
            lambda m: m.objects.create_user("nomfa", is_staff=True),
            ["nomfa"],
            "has no second factor",
        ),
        (
            lambda m: m.objects.create_user("ok", is_staff=True),
            ["ok", "--ttl-days", "0"],
            "--ttl-days must be between 1 and 365",
        ),
        (
            lambda m: m.objects.create_user("ok", is_staff=True),
            ["ok", "--ttl-days", "366"],
            "--ttl-days must be between 1 and 365",
        ),
    ],
    ids=["non-staff", "inactive", "unknown", "no-second-factor", "zero-days", "too-long"],
)
def test_command_refuses(make_user, args, message, django_user_model):
    make_user(django_user_model)
    out = StringIO()
    with pytest.raises(CommandError, match=message):
        call_command("create_staff_token", *args, stdout=out)
    assert out.getvalue() == ""
    assert not AuthToken.objects.exists()


def test_service_refuses_unknown_users_and_bad_ttls(staff_user):
    with pytest.raises(InvalidInput, match="no second factor"):
        staff_token_create(username="staff")
    confirmed_second_factor(staff_user)
    with pytest.raises(NotFound):
        staff_token_create(username="nobody")
    for ttl in (timedelta(0), timedelta(days=-1), timedelta(days=366)):
        with pytest.raises(InvalidInput):
            staff_token_create(username="staff", ttl=ttl)
    assert not AuthToken.objects.exists()
    instance, token = staff_token_create(username="staff", ttl=timedelta(hours=2))
    assert instance.user == staff_user
    assert instance.digest != token and token not in instance.digest


# -- admin ----------------------------------------------------------------------------------
def test_admin_lists_and_shows_tokens_without_the_secret(client, superuser, viewer):
    _, token = create_token("staff")
    row = AuthToken.objects.get(user=viewer)
    client.force_login(superuser)
    pages = [
        reverse("admin:knox_authtoken_changelist"),
        reverse("admin:knox_authtoken_change", args=[row.pk]),
        reverse("admin:knox_authtoken_delete", args=[row.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert token not in html
    changelist = client.get(pages[0]).content.decode()
    assert token[:15] in changelist
    assert '<td class="field-status">active</td>' in changelist


def test_admin_cannot_add_or_edit_tokens(client, superuser, viewer):
    create_token("staff")
    row = AuthToken.objects.get(user=viewer)
    client.force_login(superuser)
    assert client.get(reverse("admin:knox_authtoken_add")).status_code == 403
    change = reverse("admin:knox_authtoken_change", args=[row.pk])
    assert 'name="digest"' not in client.get(change).content.decode()
    response = client.post(change, {"digest": "0" * 128, "user": superuser.pk})
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.user == viewer


def test_admin_delete_revokes_the_token(client, superuser, viewer):
    _, token = create_token("staff")
    row = AuthToken.objects.get(user=viewer)
    client.force_login(superuser)
    response = client.post(reverse("admin:knox_authtoken_delete", args=[row.pk]), {"post": "yes"})
    assert response.status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/providers/").status_code == 401


def test_admin_marks_expired_tokens(client, superuser, viewer):
    create_token("staff")
    AuthToken.objects.update(expiry=timezone.now() - timedelta(minutes=1))
    client.force_login(superuser)
    html = client.get(reverse("admin:knox_authtoken_changelist")).content.decode()
    assert '<td class="field-status">expired</td>' in html
