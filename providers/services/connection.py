"""Test a provider's connection: a cheap authenticated call, remembered on the provider."""

from django.utils import timezone

from providers.adapters.errors import ProviderError
from providers.adapters.registry import adapter_pool
from providers.adapters.types import CheckResult
from providers.fields import EncryptionKeyError
from providers.models import ProviderConfig


def provider_connection_check(*, provider: ProviderConfig) -> CheckResult:
    """Run the adapter's check() and store when, whether, how fast and what it said.

    Never raises for a provider or configuration failure: the result carries the mapped error,
    so admin and API can show it as it is.
    """
    try:
        adapter = adapter_pool.build(provider.to_settings())
        result = adapter.check()
    except (ProviderError, EncryptionKeyError, ValueError) as exc:
        code = getattr(exc, "code", "invalid_configuration")
        message = getattr(exc, "message", str(exc))
        result = CheckResult(ok=False, latency_ms=0, message=f"{code}: {message}")
    ProviderConfig.objects.filter(pk=provider.pk).update(
        last_check_at=timezone.now(),
        last_check_ok=result.ok,
        last_check_latency_ms=result.latency_ms,
        last_check_message=(f"{result.model_count} models" if result.ok else result.message)[:500],
    )
    provider.refresh_from_db(
        fields=["last_check_at", "last_check_ok", "last_check_latency_ms", "last_check_message"]
    )
    return result
