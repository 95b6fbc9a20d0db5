"""Stored responses expire after RESPONSES_RETENTION_DAYS: invisible once expired, deleted by
the daily task (scheduled by setup_schedules), and not stored at all with retention 0."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from chat.models import StoredResponse
from chat.responses_api import services
from chat.tasks import responses_purge_expired
from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(openai_fake):
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    selection_set("svc", model)
    return ConsumerAPIKey.objects.create_key(name="keep")[1]


def create(client, secret, **body):
    response = client.post(
        "/v1/responses",
        data=json.dumps({"model": "svc", "input": "hello", **body}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_stored_response_expires_after_the_retention(client, secret, settings):
    settings.RESPONSES_RETENTION_DAYS = 7
    created = create(client, secret)
    stored = StoredResponse.objects.get(pk=created["id"])
    assert stored.expires_at - stored.created_at == pytest.approx(
        timedelta(days=7), abs=timedelta(seconds=60)
    )
    stored.expires_at = timezone.now() - timedelta(seconds=1)
    stored.save()
    answer = client.get(f"/v1/responses/{created['id']}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert answer.status_code == 404
    follow = client.post(
        "/v1/responses",
        data=json.dumps({"model": "svc", "input": "x", "previous_response_id": created["id"]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert follow.status_code == 404 and follow.json()["error"]["param"] == "previous_response_id"


def test_the_task_deletes_only_expired_responses_and_is_safe_twice(client, secret, monkeypatch):
    kept, gone, also_gone = (create(client, secret)["id"] for _ in range(3))
    past = timezone.now() - timedelta(days=1)
    StoredResponse.objects.filter(pk__in=[gone, also_gone]).update(expires_at=past)
    monkeypatch.setattr(services, "PURGE_BATCH", 1)  # several batches
    assert responses_purge_expired() == 2
    assert responses_purge_expired() == 0
    assert list(StoredResponse.objects.values_list("pk", flat=True)) == [kept]


def test_retention_zero_stores_nothing(client, secret, settings):
    settings.RESPONSES_RETENTION_DAYS = 0
    created = create(client, secret)
    assert created["store"] is True
    assert StoredResponse.objects.count() == 0


def test_the_schedule_is_set_up(settings):
    call_command("setup_schedules", stdout=StringIO())
    task = PeriodicTask.objects.get(task="chat.responses_purge_expired")
    assert task.enabled and task.crontab is not None


def test_deleting_the_key_deletes_its_responses(client, secret):
    create(client, secret)
    ConsumerAPIKey.objects.all().delete()
    assert StoredResponse.objects.count() == 0
