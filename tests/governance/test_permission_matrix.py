"""Who may open what: every admin page and every API endpoint against anonymous, each role, a
consumer key and a superuser, compared with the explicit tables below. Widening a single
permission of a role changes a cell (or the role table in test_roles.py) and fails here.

Letters: N anonymous, V Viewer, O Operator, K Key manager, A Administrator, C consumer key,
S superuser. A cell lists who gets past the permission check (any status but 401/403 or a
redirect to the sign-in page).
"""

import pytest
from django.contrib import admin
from django.test import Client
from rest_framework.test import APIClient

from providers.consumers import consumer_key_create
from providers.models import ModelConfig, ProviderConfig
from providers.services.selection import model_selection_upsert
from tests.governance.helpers import member

pytestmark = pytest.mark.django_db

ROLES = {"V": "Viewer", "O": "Operator", "K": "Key manager", "A": "Administrator"}
ACTORS = "NVOKACS"

# (model label, page) -> who may open it. Every registered admin model must be listed.
ADMIN_PAGES = {
    ("audit.AuditEvent", "changelist"): "AS",
    ("audit.AuditEvent", "add"): "",
    ("auth.Group", "changelist"): "AS",
    ("auth.Group", "add"): "AS",
    ("auth.User", "changelist"): "AS",
    ("auth.User", "add"): "AS",
    ("axes.AccessAttempt", "changelist"): "AS",
    ("axes.AccessAttempt", "add"): "",
    ("axes.AccessFailureLog", "changelist"): "AS",
    ("axes.AccessFailureLog", "add"): "",
    ("axes.AccessLog", "changelist"): "AS",
    ("axes.AccessLog", "add"): "",
    ("chat.Conversation", "changelist"): "OKAS",
    ("chat.Conversation", "add"): "",
    # What callers sent and received: administrators only.
    ("chat.RequestLog", "changelist"): "AS",
    ("chat.RequestLog", "add"): "",
    ("django_celery_beat.ClockedSchedule", "changelist"): "OKAS",
    ("django_celery_beat.ClockedSchedule", "add"): "OKAS",
    ("django_celery_beat.CrontabSchedule", "changelist"): "OKAS",
    ("django_celery_beat.CrontabSchedule", "add"): "OKAS",
    ("django_celery_beat.IntervalSchedule", "changelist"): "OKAS",
    ("django_celery_beat.IntervalSchedule", "add"): "OKAS",
    ("django_celery_beat.PeriodicTask", "changelist"): "OKAS",
    ("django_celery_beat.PeriodicTask", "add"): "OKAS",
    ("django_celery_beat.SolarSchedule", "changelist"): "OKAS",
    ("django_celery_beat.SolarSchedule", "add"): "OKAS",
    ("knox.AuthToken", "changelist"): "AS",
    ("knox.AuthToken", "add"): "",
    ("providers.ConsumerAPIKey", "changelist"): "OKAS",
    ("providers.ConsumerAPIKey", "add"): "OKAS",
    ("providers.ModelConfig", "changelist"): "VOKAS",
    ("providers.ModelConfig", "add"): "OKAS",
    ("providers.ModelGroup", "changelist"): "VOKAS",
    ("providers.ModelGroup", "add"): "OKAS",
    ("providers.ModelSelection", "changelist"): "VOKAS",
    ("providers.ModelSelection", "add"): "OKAS",
    ("providers.ProviderConfig", "changelist"): "VOKAS",
    ("providers.ProviderConfig", "add"): "KAS",
    ("providers.SelectionChange", "changelist"): "VOKAS",
    ("providers.SelectionChange", "add"): "",
    # The library's own key admin (being unregistered in favour of ConsumerAPIKey's).
    ("rest_framework_api_key.APIKey", "changelist"): "AS",
    ("rest_framework_api_key.APIKey", "add"): "AS",
    ("usage.Budget", "changelist"): "VOKAS",
    ("usage.Budget", "add"): "OKAS",
    ("usage.BudgetAlert", "changelist"): "VOKAS",
    ("usage.BudgetAlert", "add"): "",
    ("usage.DailyUsage", "changelist"): "VOKAS",
    ("usage.DailyUsage", "add"): "",
    ("usage.RateLimit", "changelist"): "OKAS",
    ("usage.RateLimit", "add"): "OKAS",
    ("usage.UsageRecord", "changelist"): "VOKAS",
    ("usage.UsageRecord", "add"): "",
}
OTHER_PAGES = {
    ("get", "/admin/"): "VOKAS",
    ("get", "/admin/usage/dailyusage/dashboard/"): "VOKAS",
    ("get", "/admin/providers/providerconfig/1/change/"): "VOKAS",
    ("get", "/admin/providers/providerconfig/1/delete/"): "KAS",
    ("get", "/admin/auth/user/1/change/"): "AS",
}
API = {
    ("get", "/api/providers/"): "VOKAS",
    ("post", "/api/providers/"): "KAS",
    ("post", "/api/providers/test/"): "KAS",
    ("get", "/api/providers/p1/"): "VOKAS",
    ("patch", "/api/providers/p1/"): "KAS",
    ("put", "/api/providers/p1/"): "KAS",
    ("delete", "/api/providers/nothing/"): "KAS",
    ("get", "/api/providers/p1/models/"): "VOKAS",
    ("post", "/api/providers/p1/test/"): "KAS",
    ("get", "/api/models/"): "VOKACS",
    ("get", "/api/models/available/"): "VOKACS",
    ("get", "/api/selections/"): "VOKACS",
    ("get", "/api/selections/svc/"): "VOKACS",
    ("put", "/api/selections/svc/"): "OKAS",
    ("patch", "/api/selections/svc/"): "OKAS",
    ("get", "/api/groups/"): "VOKACS",
    ("get", "/api/groups/pool/"): "VOKACS",
    ("put", "/api/groups/pool/"): "OKAS",
    ("delete", "/api/groups/nothing/"): "OKAS",
    ("get", "/api/usage/daily/"): "VOKAS",
    ("get", "/api/usage/daily.csv"): "VOKAS",
    ("get", "/api/usage/summary/"): "VOKAS",
    ("get", "/api/conversations/"): "VOKACS",
    ("get", "/api/conversations/999999/"): "VOKACS",
    ("delete", "/api/conversations/999999/"): "VOKACS",
    ("get", "/api/audit/"): "AS",
    ("get", "/api/schema/"): "NVOKACS",
    ("get", "/api/docs/"): "NVOKACS",
    ("get", "/api/redoc/"): "NVOKACS",
    ("get", "/v1/models"): "C",
    ("post", "/v1/chat/completions"): "C",
    ("post", "/v1/embeddings"): "C",
    ("get", "/anthropic/v1/models"): "C",
    ("get", "/anthropic/v1/models/nothing"): "C",
    ("post", "/anthropic/v1/messages"): "C",
    ("post", "/anthropic/v1/messages/count_tokens"): "C",
    ("post", "/v1/responses"): "C",
    ("get", "/v1/responses/resp_nothing"): "C",
    ("delete", "/v1/responses/resp_nothing"): "C",
}
# Starting a conversation or opening the playground page costs nothing; a message does.
CONVERSATIONS = {
    ("post", "/api/conversations/"): "VOKACS",
    ("get", "/playground/"): "VOKAS",
}


@pytest.fixture
def actors(superuser) -> dict[str, Client]:
    ProviderConfig.objects.create(
        pk=1, slug="p1", kind="openai", name="P", base_url="http://127.0.0.1:9/v1",
        timeout_seconds=1, max_retries=0, api_key="sk-unreachable-0000",
    )  # fmt: skip
    made: dict[str, Client] = {"N": APIClient()}
    for letter, role in ROLES.items():
        made[letter] = APIClient()
        made[letter].force_login(member(f"role-{letter}", role))
    _, secret = consumer_key_create(name="program")
    made["C"] = APIClient()
    made["C"].credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    made["S"] = APIClient()
    made["S"].force_login(superuser)
    return made


def _passes(response) -> bool:
    if response.status_code in (401, 403):
        return False
    if response.status_code == 302:
        target = response["Location"]
        return "/login/" not in target and "/second-factor/" not in target
    return True


def _who(actors: dict[str, Client], method: str, url: str) -> str:
    return "".join(
        letter
        for letter in ACTORS
        if _passes(getattr(actors[letter], method)(url, {}, format="json"))
    )


def _compare(actors: dict[str, Client], table: dict[tuple[str, str], str]) -> None:
    actual = {key: _who(actors, *key) for key in table}
    wrong = {k: f"expected {table[k]!r}, got {actual[k]!r}" for k in table if actual[k] != table[k]}
    assert not wrong, wrong


def test_every_admin_page(actors):
    registered = {model._meta.label for model in admin.site._registry}
    listed = {label for label, _ in ADMIN_PAGES}
    assert registered - listed == set(), "classify the new admin pages in ADMIN_PAGES"
    table = {}
    for (label, page), who in ADMIN_PAGES.items():
        if label not in registered:
            continue  # unregistered since (the library's API key admin)
        app, model = label.lower().split(".")
        url = f"/admin/{app}/{model}/" + ("add/" if page == "add" else "")
        table[("get", url)] = who
    _compare(actors, table)


def test_other_admin_pages(actors):
    _compare(actors, OTHER_PAGES)


def test_every_api_endpoint(actors):
    _compare(actors, API)


def test_conversations_and_the_playground_page(actors):
    _compare(actors, CONVERSATIONS)


def test_spending_needs_use_models(actors):
    """Spending needs chat.use_models: never the Viewer. Each actor posts a message to a
    conversation of its own, and a turn of the playground."""
    ModelConfig.objects.create(
        provider_id=1, name="gpt-a", enabled=True, capabilities=["chat", "streaming"]
    )
    model_selection_upsert(service="rag", primary="p1:gpt-a", actor=None)
    who = ""
    for letter in ACTORS:
        client = actors[letter]
        started = client.post("/api/conversations/", {"service": "rag"}, format="json")
        if started.status_code != 201:
            continue
        url = f"/api/conversations/{started.json()['id']}/messages/"
        if _passes(client.post(url, {"content": "hello"}, format="json")):
            who += letter
    assert who == "OKACS"
    assert _who(actors, "post", "/playground/stream/") == "OKAS"


def test_every_api_route_is_in_the_table():
    """A new endpoint must be classified here before it ships."""
    from django.urls import get_resolver
    from django.urls.resolvers import URLResolver

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern)

    routes = {
        r for r in walk(get_resolver().url_patterns) if r.startswith(("api/", "v1/", "anthropic/"))
    }
    covered = {
        "api/^providers/$", "api/^providers/test/$", "api/^providers/(?P<slug>[^/]+)/$",
        "api/^providers/(?P<slug>[^/]+)/models/$", "api/^providers/(?P<slug>[^/]+)/test/$",
        "api/^models/$", "api/^models/available/$", "api/^selections/$",
        "api/^selections/(?P<service>[^/]+)/$", "api/^groups/$", "api/^groups/(?P<name>[^/]+)/$",
        "api/usage/daily/", "api/usage/daily.csv",
        "api/usage/summary/", "api/^conversations/$", "api/^conversations/(?P<pk>[^/.]+)/$",
        "api/^conversations/(?P<pk>[^/.]+)/messages/$", "api/audit/", "api/schema/",
        "api/docs/", "api/redoc/", "v1/chat/completions", "v1/embeddings", "v1/models",
        "anthropic/v1/messages", "anthropic/v1/messages/count_tokens", "anthropic/v1/models",
        "anthropic/v1/models/<path:model_id>",
        "v1/responses", "v1/responses/<str:response_id>",
    }  # fmt: skip
    assert routes - covered == set(), "add the new endpoints to API and this list"
