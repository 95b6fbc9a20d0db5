"""Request logs: kept only for services that opted in, redacted, compressed, expired by the
retention task, readable by administrators only."""

import zlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat.models import RequestLog
from chat.request_logs import request_log_content, text_redact
from chat.services import chat_completion_run, chat_completion_stream
from chat.tasks import request_logs_expired_delete
from config.errors import InvalidInput
from providers.adapters.errors import ProviderError
from providers.adapters.types import ChatRequest, Message
from providers.models import ModelSelection
from providers.services.selection import model_selection_update
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.governance.helpers import member
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db

SECRET_PROMPT = "my key is sk-live-abcdefghijklmnop1234 and my mail is bob@example.com"


@pytest.fixture
def model(openai_fake):
    return model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")


def _ask(service: str, text: str = "hello") -> ChatRequest:
    return ChatRequest(model=service, messages=(Message(role="user", content=text),))


def test_a_service_that_opted_in_keeps_the_request_and_the_response(model) -> None:
    selection_set("logged", model, request_log_days=7)
    result = chat_completion_run(request=_ask("logged", "what is 2+2?"))
    log = RequestLog.objects.get()
    assert log.request_id == result.request_id
    assert (log.service, log.model_string, log.outcome) == ("logged", model.model_string, "ok")
    assert not log.streamed
    assert log.expires_at - log.created_at == timedelta(days=7)
    request, response = request_log_content(log=log)
    assert request["request"]["messages"][0]["content"] == "what is 2+2?"
    assert response["response"]["text"] == result.response.text
    assert response["usage_record_id"] == result.usage_record_id
    # Stored compressed: the raw column is zlib, its JSON size is recorded.
    assert b"what is 2+2?" not in bytes(log.request_body)
    assert len(zlib.decompress(bytes(log.request_body))) == log.request_bytes


def test_nothing_is_stored_for_services_that_did_not_opt_in(model) -> None:
    selection_set("quiet", model)
    selection_set("logged", model, request_log_days=1)
    chat_completion_run(request=_ask("quiet"))
    chat_completion_run(request=_ask(model.model_string))  # a model string has no service
    stream = chat_completion_stream(request=_ask("quiet"))
    list(stream)
    assert RequestLog.objects.count() == 0
    assert UsageRecord.objects.count() == 3


def test_secrets_and_configured_patterns_are_redacted_before_storing(
    model, openai_fake, settings
) -> None:
    settings.REQUEST_LOG_REDACT_PATTERNS = [
        *settings.REQUEST_LOG_REDACT_PATTERNS,
        r"\b\d{3}-\d{2}-\d{4}\b",  # a social security number
    ]
    openai_fake.reply_text = "Your SSN 123-45-6789 is noted, bob@example.com"
    selection_set("logged", model, request_log_days=3)
    chat_completion_run(request=_ask("logged", SECRET_PROMPT + " ssn 987-65-4321"))
    log = RequestLog.objects.get()
    stored = zlib.decompress(bytes(log.request_body)) + zlib.decompress(bytes(log.response_body))
    for secret in (b"abcdefghijklmnop1234", b"bob@example.com", b"987-65-4321", b"123-45-6789"):
        assert secret not in stored
    assert b"[REDACTED]" in stored
    request, response = request_log_content(log=log)
    assert request["request"]["messages"][0]["content"].startswith("my key is sk-")
    assert "Your SSN [REDACTED] is noted" in response["response"]["text"]


def test_default_patterns_cover_common_secret_shapes() -> None:
    samples = [
        "AKIAABCDEFGHIJKLMNOP",
        "ghp_abcdefghijklmnopqrstuvwxyz0123",
        "xoxb-1234567890-abcdef",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "Bearer abcdefghijklmnop",
        "AIzaSyA1234567890abcdefghijklmnop",
        "alice@example.org",
    ]
    for sample in samples:
        assert sample not in text_redact(f"value: {sample} end"), sample


def test_a_stream_is_logged_once_it_ends(model, openai_fake) -> None:
    openai_fake.reply_text = "streamed answer"
    selection_set("logged", model, request_log_days=2)
    stream = chat_completion_stream(request=_ask("logged"))
    assert RequestLog.objects.count() == 0  # not before the end
    events = list(stream)
    assert events
    log = RequestLog.objects.get()
    assert log.streamed and log.outcome == "ok" and log.request_id == stream.request_id
    _, response = request_log_content(log=log)
    assert response["response"]["text"] == "streamed answer"
    assert response["usage_record_id"] == stream.usage_record_id
    stream.close()  # closing a finished stream logs nothing more
    assert RequestLog.objects.count() == 1


def test_an_abandoned_stream_is_logged_as_cancelled(model) -> None:
    selection_set("logged", model, request_log_days=2)
    stream = chat_completion_stream(request=_ask("logged"))
    stream.close()
    log = RequestLog.objects.get()
    assert log.outcome == "cancelled" and log.streamed


def test_a_failed_call_logs_the_request_and_the_error(model, openai_fake) -> None:
    selection_set("logged", model, request_log_days=2)
    openai_fake.faults.status = 400
    with pytest.raises(ProviderError) as failed:
        chat_completion_run(request=_ask("logged", "doomed"))
    log = RequestLog.objects.get()
    assert log.outcome == failed.value.code
    assert log.request_id == UsageRecord.objects.get().request_id
    request, response = request_log_content(log=log)
    assert request["request"]["messages"][0]["content"] == "doomed"
    assert response["error"]["code"] == failed.value.code
    assert response["error"]["http_status"] == failed.value.http_status


def test_a_stream_that_fails_before_its_first_event_is_logged(model, openai_fake) -> None:
    selection_set("logged", model, request_log_days=2)
    openai_fake.faults.status = 400
    with pytest.raises(ProviderError):
        chat_completion_stream(request=_ask("logged"))
    log = RequestLog.objects.get()
    assert log.streamed and log.outcome != "ok"


def test_the_retention_task_deletes_expired_logs_only(model) -> None:
    selection_set("logged", model, request_log_days=1)
    for _ in range(3):
        chat_completion_run(request=_ask("logged"))
    now = timezone.now()
    RequestLog.objects.filter(pk__in=RequestLog.objects.values("pk")[:2]).update(
        expires_at=now - timedelta(minutes=1)
    )
    assert request_logs_expired_delete.apply().get() == 2
    assert RequestLog.objects.count() == 1
    assert request_logs_expired_delete.apply().get() == 0  # safe to run twice


def test_opting_in_goes_through_the_selection_service(model, django_capture_on_commit_callbacks):
    selection_set("svc", model)
    selection = ModelSelection.objects.get(service="svc")
    with django_capture_on_commit_callbacks(execute=True):
        model_selection_update(selection=selection, request_log_days=30)
    assert ModelSelection.objects.get(service="svc").request_log_days == 30
    chat_completion_run(request=_ask("svc"))  # the next call sees it at once
    assert RequestLog.objects.get().expires_at > timezone.now() + timedelta(days=29)
    for bad in (-1, 4000, "7", True):
        with pytest.raises(InvalidInput) as refused:
            model_selection_update(selection=selection, request_log_days=bad)
        assert "request_log_days" in refused.value.details["fields"]


def test_the_selections_api_reads_and_writes_request_log_days(model, superuser) -> None:
    from rest_framework.test import APIClient

    selection_set("svc", model)
    client = APIClient()
    client.force_login(superuser)
    answer = client.patch("/api/selections/svc/", {"request_log_days": 5}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["request_log_days"] == 5
    refused = client.patch("/api/selections/svc/", {"request_log_days": -2}, format="json")
    assert refused.status_code == 400


def test_only_administrators_read_request_logs_in_admin(model, superuser) -> None:
    selection_set("logged", model, request_log_days=1)
    result = chat_completion_run(request=_ask("logged", "admin view please"))
    log = RequestLog.objects.get()
    page = f"/admin/chat/requestlog/{log.pk}/change/"
    admin_client = Client()
    admin_client.force_login(member("an-admin", "Administrator"))
    shown = admin_client.get(page)
    assert shown.status_code == 200
    assert "admin view please" in shown.content.decode()
    listed = admin_client.get("/admin/chat/requestlog/", {"q": result.request_id})
    assert result.request_id in listed.content.decode()
    for role in ("Viewer", "Operator", "Key manager"):
        other = Client()
        other.force_login(member(f"a-{role}", role))
        assert other.get(page).status_code == 403
    # The usage record links to the log by request id.
    record = UsageRecord.objects.get()
    record_page = admin_client.get(f"/admin/usage/usagerecord/{record.pk}/change/")
    assert f"/admin/chat/requestlog/?q={result.request_id}" in record_page.content.decode()


def test_the_selection_admin_form_edits_request_log_days(model, superuser) -> None:
    selection = selection_set("svc", model)
    client = Client()
    client.force_login(superuser)
    page = client.get(f"/admin/providers/modelselection/{selection.pk}/change/")
    assert 'name="request_log_days"' in page.content.decode()
