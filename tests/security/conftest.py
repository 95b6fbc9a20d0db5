"""A populated deployment for the secrets sweeps: providers of every kind holding known keys
(one of them wrong, so a call fails authentication), consumer keys, and a row in every table
an admin page or an API endpoint shows."""

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from chat.models import Conversation
from providers.models import ConsumerAPIKey, ProviderConfig
from tests.chat.helpers import FAST_RUNTIME, base_url_for, model_create, selection_set
from usage.models import Budget, BudgetAlert, DailyUsage, RateLimit, UsageRecord

HEADER_SECRET = "header-secret-value-Qw7Er9Ty"
WRONG_PROVIDER_KEY = "wrong-provider-credential-Pz6Lk2"


@dataclass
class World:
    """Everything secret the sweeps must never find in an answer."""

    secrets: list[str] = field(default_factory=list)
    consumer_secret: str = ""
    consumer: ConsumerAPIKey | None = None

    def leaks(self, text: str) -> list[str]:
        """The secrets (or their first characters, the part a "…abcd" hint never shows)
        present in text."""
        found = []
        for secret in self.secrets:
            if secret in text or secret[:-4] in text:
                found.append(secret)
        return found


def _provider(fake, *, slug: str, kind: str, api_key: str, **extra) -> ProviderConfig:
    return ProviderConfig.objects.create(
        slug=slug,
        kind=kind,
        name=slug,
        api_key=api_key,
        base_url=base_url_for(fake),
        timeout_seconds=2.0,
        max_retries=0,
        **extra,
    )


@pytest.fixture
def world(db, settings, openai_fake, anthropic_fake, gemini_fake, superuser) -> World:
    for name, value in FAST_RUNTIME.items():
        setattr(settings, name, value)
    world = World()
    providers = [
        _provider(
            openai_fake,
            slug="oa",
            kind="openai",
            api_key=openai_fake.api_key,
            extra_headers=json.dumps({"X-Org-Token": HEADER_SECRET}),
        ),
        _provider(anthropic_fake, slug="an", kind="anthropic", api_key=anthropic_fake.api_key),
        _provider(gemini_fake, slug="ge", kind="gemini", api_key=gemini_fake.api_key),
        _provider(openai_fake, slug="bad", kind="openai", api_key=WRONG_PROVIDER_KEY),
    ]
    world.secrets += [p.api_key for p in providers] + [HEADER_SECRET]

    gpt = model_create(providers[0], "gpt-4o-mini")
    model_create(providers[1], "claude-haiku-4-5")
    model_create(providers[2], "gemini-2.5-flash")
    broken = model_create(providers[3], "gpt-4.1")
    selection_set("svc", gpt)
    selection_set("broken", broken)

    consumer, secret = ConsumerAPIKey.objects.create_key(name="sweep-program")
    other, other_secret = ConsumerAPIKey.objects.create_key(
        name="restricted", allowed_services=["svc"]
    )
    _, library_secret = APIKey.objects.create_key(name="library-key")
    world.consumer, world.consumer_secret = consumer, secret
    for key, raw in ((consumer, secret), (other, other_secret)):
        world.secrets += [raw, raw.partition(".")[2], key.hashed_key]
    world.secrets += [library_secret, library_secret.partition(".")[2]]

    Budget.objects.create(name="org", scope_type="global", limit_usd=Decimal("100"))
    budget = Budget.objects.get(name="org")
    BudgetAlert.objects.create(
        budget=budget,
        period_start=date(2026, 1, 1),
        threshold=80,
        spent=Decimal("81"),
        limit_usd=Decimal("100"),
    )
    RateLimit.objects.create(
        scope_type="api_key", scope_value=str(consumer.id), requests_per_minute=600
    )
    Conversation.objects.create(api_key=consumer, service="svc", title="sweep")
    Conversation.objects.create(owner=superuser, service="svc", title="staff sweep")
    DailyUsage.objects.create(
        day=date(2026, 1, 1),
        provider="oa",
        model_string="oa:gpt-4o-mini",
        service="svc",
        api_key=consumer,
        requests=1,
        updated_at=timezone.now(),
    )
    return world


def records_text() -> str:
    """Every UsageRecord's free-text fields, as the admin and the API could show them."""
    return json.dumps(
        list(UsageRecord.objects.values("error_message", "raw_usage", "outcome")), default=str
    )
