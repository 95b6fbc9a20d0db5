"""What staff set up before programs call the stack, run inside a process of the stack.

`SEED` is Python for `ProductionStack.django`: it creates providers pointing at fakes of the
test process, their models with prices, services (selections, with fallbacks), consumer keys
and staff users with API tokens, all from one JSON spec, and returns the secrets (the only
time they exist outside the database's hashes):

    {"providers": [{"slug", "kind", "base_url", "api_key", "timeout"}],
     "models": [{"provider", "name", "max_output_tokens", "input", "output"}],
     "selections": [{"service", "primary", "fallbacks": ["slug:model", ...]}],
     "keys": [{"name", "services": [...], "models": [...]}],
     "staff": [{"username", "superuser": bool}],
     "budgets": [{"name", "scope_type", "scope_value", "limit_usd"}]}  (daily, hard)
"""

from typing import Any

SEED = """
from decimal import Decimal
from django.contrib.auth import get_user_model
from providers.consumers import consumer_key_create
from providers.models import ModelConfig, ModelPrice, ModelSelection, ProviderConfig
from providers.models.selection import SelectionFallback
from providers.services.staff_tokens import staff_token_create

def model_for(string):
    slug, name = string.split(":", 1)
    return ModelConfig.objects.get(provider__slug=slug, name=name)

for p in args.get("providers", []):
    ProviderConfig.objects.update_or_create(slug=p["slug"], defaults=dict(
        kind=p.get("kind", "openai"), name=p["slug"], api_key=p["api_key"],
        base_url=p["base_url"], timeout_seconds=p.get("timeout", 30), max_retries=0))
for m in args.get("models", []):
    model, _ = ModelConfig.objects.update_or_create(
        provider=ProviderConfig.objects.get(slug=m["provider"]), name=m["name"],
        defaults=dict(kind="chat", enabled=True,
                      capabilities=["tools", "vision", "json_output", "streaming"],
                      context_window=m.get("context_window", 128000),
                      max_output_tokens=m.get("max_output_tokens", 4096)))
    ModelPrice.objects.create(model=model, input=Decimal(m.get("input", "1.00")),
                              output=Decimal(m.get("output", "2.00")))
for s in args.get("selections", []):
    selection, _ = ModelSelection.objects.update_or_create(
        service=s["service"], defaults={"primary": model_for(s["primary"]),
                                        "system_prompt": s.get("system_prompt", "")})
    SelectionFallback.objects.filter(selection=selection).delete()
    for position, string in enumerate(s.get("fallbacks", [])):
        SelectionFallback.objects.create(
            selection=selection, model=model_for(string), position=position)
keys = {}
for k in args.get("keys", []):
    _, keys[k["name"]] = consumer_key_create(
        name=k["name"], allowed_services=k.get("services", []),
        allowed_models=k.get("models", []))
tokens = {}
for u in args.get("staff", []):
    User = get_user_model()
    maker = User.objects.create_superuser if u.get("superuser") else User.objects.create_user
    user = maker(username=u["username"], password=None, is_staff=True)
    if u.get("permissions"):
        from django.contrib.auth.models import Permission
        user.user_permissions.set(Permission.objects.filter(codename__in=u["permissions"]))
    # Staff tokens need a confirmed second factor (config.access): the user has set one up.
    from django_otp.plugins.otp_totp.models import TOTPDevice
    TOTPDevice.objects.create(user=user, name="outside-in", confirmed=True)
    _, tokens[u["username"]] = staff_token_create(username=u["username"])
from usage.models import Budget
for b in args.get("budgets", []):
    Budget.objects.create(name=b["name"], scope_type=b["scope_type"],
        scope_value=b.get("scope_value", ""), period="daily",
        limit_usd=Decimal(b["limit_usd"]), hard=True)
result = {"keys": keys, "tokens": tokens}
"""


def openai_provider(slug: str, fake: Any, **extra: Any) -> dict[str, Any]:
    """A provider spec for an OpenAI-wire fake of the test process."""
    spec = {"slug": slug, "kind": "openai", "base_url": f"{fake.url}/v1", "api_key": fake.api_key}
    return spec | extra
