"""No key material on any page or answer: every admin page, the dashboard, the playground,
every /api/ list and detail, /v1/models, and the usage rows an authentication failure leaves."""

import json
import re

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tests.security.conftest import WRONG_PROVIDER_KEY, World, records_text
from usage.models import UsageRecord

HELLO = [{"role": "user", "content": "hello"}]


def v1_call(client: Client, secret: str, model: str) -> object:
    return client.post(
        "/v1/chat/completions",
        data=json.dumps({"model": model, "messages": HELLO}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


@pytest.fixture
def calls(world: World, client: Client) -> World:
    """One answered call and one the provider refuses (wrong key): usage rows of both kinds."""
    assert v1_call(client, world.consumer_secret, "svc").status_code == 200
    failed = v1_call(client, world.consumer_secret, "broken")
    assert failed.status_code == 502, failed.content
    assert failed.json()["error"]["code"] == "provider_authentication_failed"
    assert not world.leaks(failed.content.decode())
    return world


def admin_urls() -> list[str]:
    """Changelist, add and change (for up to three rows) of every registered ModelAdmin."""
    urls = [reverse("admin:index")]
    for model, _model_admin in admin.site._registry.items():
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{info}_changelist"), reverse(f"{info}_add")]
        for pk in model._default_manager.values_list("pk", flat=True)[:3]:
            urls.append(reverse(f"{info}_change", args=[pk]))
            urls.append(reverse(f"{info}_history", args=[pk]))
    for name in ("usage_dailyusage_dashboard", "usage_dailyusage_dashboard_data"):
        urls.append(reverse(f"admin:{name}"))
    urls.append(reverse("playground"))
    return urls


@pytest.mark.django_db
def test_no_admin_page_shows_key_material(calls: World, client: Client, superuser):
    client.force_login(superuser)
    pages = admin_urls()
    assert len(pages) > 40
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)
        body = response.content.decode()
        assert not calls.leaks(body), (url, calls.leaks(body))


@pytest.mark.django_db
def test_admin_test_connection_with_a_wrong_key_reports_no_key(
    calls: World, client: Client, superuser
):
    from providers.models import ProviderConfig

    client.force_login(superuser)
    bad = ProviderConfig.objects.get(slug="bad")
    url = reverse("admin:providers_providerconfig_test_connection", args=[bad.pk])
    response = client.post(url, follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "provider_authentication_failed" in body  # the failure is reported...
    assert WRONG_PROVIDER_KEY not in body and not calls.leaks(body)  # ...without the key
    changelist = client.get(reverse("admin:providers_providerconfig_changelist"))
    assert not calls.leaks(changelist.content.decode())


def api_urls() -> list[str]:
    """Every GET list under /api/ and a detail for each row the lists name."""
    from providers.models import ModelSelection, ProviderConfig

    urls = [
        "/api/providers/",
        "/api/models/",
        "/api/models/available/",
        "/api/selections/",
        "/api/usage/daily/",
        "/api/usage/daily.csv",
        "/api/usage/summary/",
        "/api/conversations/",
        "/api/schema/",
        "/v1/models",
    ]
    for slug in ProviderConfig.objects.values_list("slug", flat=True):
        urls += [f"/api/providers/{slug}/", f"/api/providers/{slug}/models/"]
    for service in ModelSelection.objects.values_list("service", flat=True):
        urls.append(f"/api/selections/{service}/")
    from chat.models import Conversation

    for pk in Conversation.objects.values_list("pk", flat=True):
        urls += [f"/api/conversations/{pk}/", f"/api/conversations/{pk}/messages/"]
    return urls


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["staff", "consumer"])
def test_no_api_answer_shows_key_material(calls: World, client: Client, superuser, who):
    headers = {}
    if who == "staff":
        client.force_login(superuser)
    else:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {calls.consumer_secret}"
    answered = 0
    for url in api_urls():
        response = client.get(url, **headers)
        # Listing the wrong-key provider's remote models is the provider's refusal: a 502.
        expected_502 = url == "/api/providers/bad/models/" and who == "staff"
        assert response.status_code < 500 or expected_502, (url, response.status_code)
        answered += response.status_code == 200
        body = response.content.decode()
        assert not calls.leaks(body), (who, url, calls.leaks(body))
        if response.get("Content-Type", "").startswith("application/json"):
            assert not re.search(r'"(api_key|hashed_key|extra_headers)"\s*:\s*"[^"]', body), url
    assert answered >= 5


@pytest.mark.django_db
def test_usage_rows_of_an_authentication_failure_hold_no_key(calls: World):
    failed = UsageRecord.objects.get(outcome="provider_authentication_failed")
    assert failed.error_message
    text = records_text()
    assert "raw_usage" in text
    assert "Incorrect API key provided" in text  # the provider's message is kept, scrubbed
    assert WRONG_PROVIDER_KEY not in text and not calls.leaks(text)


def test_celery_tasks_take_no_secrets():
    """Task arguments travel through the broker and the result backend in clear: only dates,
    counts and flags, never a key or a provider's settings."""
    import inspect

    from config.celery import app

    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert ours
    for name, task in ours.items():
        parameters = inspect.signature(task.run).parameters
        for parameter in parameters:
            assert not re.search(r"key|secret|token|password|settings|header", parameter), (
                name,
                parameter,
            )
