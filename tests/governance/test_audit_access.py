"""The trail is append-only for everyone, readable in admin and at GET /api/audit/ by staff
with the view permission, and trimmed by the retention task."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from config.audit.models import AuditAppendOnlyError, AuditEvent
from config.audit.services import audit_event_record
from config.audit.tasks import audit_retention_apply
from providers.consumers import consumer_key_create
from tests.governance.helpers import member

pytestmark = pytest.mark.django_db
ROLES = ["Viewer", "Operator", "Key manager", "Administrator"]


@pytest.fixture
def event(db):
    return audit_event_record(
        action="update", object_type="usage.budget", object_id=1, changes={"a": {"after": 1}}
    )


def clients():
    """(label, session client) for every role and a superuser."""
    from django.contrib.auth import get_user_model

    made = []
    for role in ROLES:
        client = Client()
        client.force_login(member(role.lower().replace(" ", "_"), role))
        made.append((role, client))
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-Long-9")
    client = Client()
    client.force_login(root)
    made.append(("superuser", client))
    return made


def test_no_role_and_no_superuser_can_edit_or_delete_an_event(event):
    change = reverse("admin:audit_auditevent_change", args=[event.pk])
    delete = reverse("admin:audit_auditevent_delete", args=[event.pk])
    changelist = reverse("admin:audit_auditevent_changelist")
    for label, client in clients():
        assert client.post(change, {"action": "delete"}).status_code in (403, 302), label
        assert client.get(delete).status_code in (403, 302), label
        assert client.post(delete, {"post": "yes"}).status_code in (403, 302), label
        assert client.get(reverse("admin:audit_auditevent_add")).status_code in (403, 302)
        bulk = client.post(
            changelist, {"action": "delete_selected", "_selected_action": [event.pk]}
        )
        assert bulk.status_code in (200, 302, 403), label
        api = APIClient()
        api.cookies = client.cookies
        for method in ("post", "put", "patch", "delete"):
            status = getattr(api, method)(f"/api/audit/?id={event.pk}", {}, format="json")
            assert status.status_code in (403, 405), (label, method, status.status_code)
    assert AuditEvent.objects.filter(pk=event.pk, changes={"a": {"after": 1}}).exists()


def test_the_model_refuses_changes_and_deletes(event):
    event.action = "delete"
    with pytest.raises(AuditAppendOnlyError):
        event.save()
    with pytest.raises(AuditAppendOnlyError):
        event.delete()
    with pytest.raises(AuditAppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AuditAppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "update"


def test_the_admin_shows_events_to_administrators_only(event):
    changelist = reverse("admin:audit_auditevent_changelist")
    made = clients()
    seen = {label: client.get(changelist).status_code for label, client in made}
    assert seen == {"Viewer": 403, "Operator": 403, "Key manager": 403, "Administrator": 200,
                    "superuser": 200}  # fmt: skip
    superuser_client = made[-1][1]
    page = superuser_client.get(changelist, {"action__exact": "update", "q": "usage"})
    assert page.status_code == 200 and "usage.budget" in page.content.decode()
    detail = superuser_client.get(reverse("admin:audit_auditevent_change", args=[event.pk]))
    assert detail.status_code == 200 and "Save" not in detail.content.decode()


def test_the_api_filters_pages_and_exports_csv():
    for i in range(5):
        audit_event_record(action="create", object_type="usage.ratelimit", object_id=i)
    old = AuditEvent.objects.create(
        at=timezone.now() - timedelta(days=10), actor_type="system", actor="system",
        source="task", object_type="usage.budget", object_id="7", action="delete",
    )  # fmt: skip
    client = APIClient()
    client.force_login(member("ada", "Administrator"))
    everything = client.get("/api/audit/", {"object_type": "usage.ratelimit", "limit": 2})
    assert everything.status_code == 200
    body = everything.json()
    assert body["count"] == 5 and len(body["results"]) == 2 and body["next"]
    assert {r["object_type"] for r in body["results"]} == {"usage.ratelimit"}
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    recent = client.get("/api/audit/", {"object_type": "usage.budget", "since": since}).json()
    assert recent["count"] == 0
    until = (timezone.now() - timedelta(days=5)).isoformat()
    older = client.get("/api/audit/", {"until": until, "action": "delete"}).json()
    assert [r["id"] for r in older["results"]] == [old.pk]
    capped = client.get("/api/audit/", {"limit": str(2**70)}).json()
    assert capped["count"] >= 6 and len(capped["results"]) == capped["count"]
    bad = client.get("/api/audit/", {"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"

    exported = client.get("/api/audit/", {"format": "csv", "object_type": "usage.ratelimit"})
    assert exported.status_code == 200 and exported["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[0][:3] == ["at", "actor_type", "actor_id"] and len(rows) == 6


def test_the_api_is_for_staff_with_the_view_permission(event):
    assert APIClient().get("/api/audit/").status_code == 401
    _, secret = consumer_key_create(name="prog")
    consumer = APIClient()
    consumer.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert consumer.get("/api/audit/").status_code == 403
    for label, session in clients():
        api = APIClient()
        api.cookies = session.cookies
        expected = 200 if label in ("Administrator", "superuser") else 403
        assert api.get("/api/audit/").status_code == expected, label


def test_retention_deletes_only_events_older_than_the_setting(settings):
    now = timezone.now()
    kept = AuditEvent.objects.create(
        at=now - timedelta(days=29), actor_type="system", actor="system", source="task",
        object_type="usage.budget", action="update",
    )  # fmt: skip
    AuditEvent.objects.create(
        at=now - timedelta(days=31), actor_type="system", actor="system", source="task",
        object_type="usage.budget", action="update",
    )  # fmt: skip
    settings.AUDIT_RETENTION_DAYS = 0
    assert audit_retention_apply.apply().get() == 0
    settings.AUDIT_RETENTION_DAYS = 30
    assert audit_retention_apply.apply().get() == 1
    assert list(AuditEvent.objects.filter(object_type="usage.budget")) == [kept]
    assert audit_retention_apply.apply().get() == 0  # safe to run twice
