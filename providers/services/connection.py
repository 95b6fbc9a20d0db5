"""Test a provider's connection: a cheap authenticated call (listing models).

`provider_connection_check` tests a saved provider and remembers the outcome on it;
`provider_settings_test` tests settings as typed, before they are saved. Both report the
mapped outcome and a bounded message built from the error taxonomy (never the provider's
answer, which could be an internal service's response reflected back). The typed key of a
settings test lives only in this call: it is not stored, logged, cached or echoed.
"""

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from providers.adapters.errors import ProviderError
from providers.adapters.registry import adapter_class_for, adapter_pool
from providers.adapters.types import CheckResult, ProviderSettings
from providers.credentials import (
    credential_spec,
    credentials_merge,
    credentials_problems,
    credentials_split,
)
from providers.fields import EncryptionKeyError
from providers.models import ProviderConfig
from providers.models.provider import ProviderKind, normalized_base_url

MODELS_LISTED_MAX = 200
INVALID = "invalid_configuration"


def provider_connection_check(*, provider: ProviderConfig) -> CheckResult:
    """Run the adapter's check() and store when, whether, how fast and what it said.

    Never raises for a provider or configuration failure: the result carries the mapped error,
    so admin and API can show it as it is.
    """
    try:
        adapter = adapter_pool.build(provider.to_settings())
        result = adapter.check()
    except ProviderError as exc:
        result = CheckResult(ok=False, latency_ms=0, message=exc.staff_summary())
    except EncryptionKeyError as exc:
        result = CheckResult(ok=False, latency_ms=0, message=f"{exc.code}: {exc.message}"[:500])
    except ValueError:
        result = CheckResult(
            ok=False,
            latency_ms=0,
            message=f"{INVALID}: the stored extra headers or credentials are not valid JSON.",
        )
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


@dataclass(frozen=True, slots=True)
class SettingsTestResult:
    ok: bool
    latency_ms: int = 0
    model_count: int = 0
    models: tuple[str, ...] = ()  # the first MODELS_LISTED_MAX model ids, sorted
    error_code: str = ""
    message: str = ""
    notes: tuple[str, ...] = field(default=())


def _failure(code: str, message: str) -> SettingsTestResult:
    return SettingsTestResult(ok=False, error_code=code, message=message[:500])


def provider_settings_test(
    *,
    kind: str,
    base_url: str = "",
    api_key: str = "",
    extra_headers: dict[str, str] | None = None,
    organization: str = "",
    project: str = "",
    timeout_seconds: float | None = None,
    stored: ProviderConfig | None = None,
    credentials: dict[str, str] | None = None,
) -> SettingsTestResult:
    """List models with the typed settings, without saving anything.

    A blank key (or a kind's secret left out of `credentials`) means "the stored one" only when
    `stored` is given and the typed kind, base URL and destination fields are where it was
    entered for: a stored secret is never sent to a new address.
    """
    if kind not in ProviderKind.values:
        return _failure(INVALID, f"Unknown kind; choose one of {', '.join(ProviderKind.values)}.")
    candidate = ProviderConfig(kind=kind, base_url=base_url or "")
    if credential_spec(kind).base_url == "required" and not base_url:
        return _failure(INVALID, f"A {candidate.get_kind_display()} provider needs its base URL.")
    if base_url and (problem := candidate.base_url_problem()):
        return _failure("provider_destination_refused", problem)
    headers = dict(extra_headers or {})
    typed = dict(credentials or {})
    values = credentials_merge(kind, {}, typed)
    notes: list[str] = []
    secrets = credential_spec(kind).secret_names
    if stored is not None:
        stored_values = stored.credentials_dict() if stored.kind == kind else {}
        values = credentials_merge(kind, stored_values, typed)
        same_place = (
            stored.kind == kind
            and normalized_base_url(stored.base_url) == normalized_base_url(base_url)
            and credentials_split(kind, values)[1] == credentials_split(kind, stored_values)[1]
        )
        untyped = [n for n in secrets if stored_values.get(n) and n not in typed]
        wants_stored = (
            (not api_key and stored.api_key)
            or (extra_headers is None and stored.extra_headers)
            or untyped
        )
        if not same_place and wants_stored:
            return _failure(
                "provider_key_unbound",
                "Enter the API key, extra headers and the kind's secrets to test a new base "
                "URL, kind or region: a stored secret is only ever sent to the address it was "
                "entered for.",
            )
        if stored.credentials_bound():
            api_key = api_key or stored.api_key
            if extra_headers is None:
                headers = stored.extra_headers_dict()
            if wants_stored:
                notes.append("The stored credentials were used where none were typed.")
        else:
            values = credentials_merge(kind, {}, typed)
    if problems := credentials_problems(kind, values, api_key=api_key):
        name, problem = next(iter(problems.items()))
        return _failure(INVALID, f"{name}: {problem}")
    limit = settings.PROVIDER_SETTINGS_TEST_TIMEOUT_SECONDS
    provider_settings = ProviderSettings(
        kind=kind,
        slug=stored.slug if stored is not None else "settings-test",
        api_key=api_key,
        base_url=base_url or None,
        organization=organization or None,
        project=project or None,
        extra_headers=headers,
        credentials=values,
        timeout=min(timeout_seconds or limit, limit),
        max_retries=0,
        allowed_networks=tuple(settings.PROVIDER_ALLOWED_NETWORKS),
    )
    started = time.perf_counter()
    adapter = None
    try:
        adapter = adapter_class_for(kind)(provider_settings)
        remote = adapter.list_models()
    except ProviderError as exc:
        return _failure(exc.code, exc.staff_summary())
    finally:
        if adapter is not None:
            adapter.close()
    ids = sorted(model.id for model in remote)
    return SettingsTestResult(
        ok=True,
        latency_ms=int((time.perf_counter() - started) * 1000),
        model_count=len(ids),
        models=tuple(ids[:MODELS_LISTED_MAX]),
        notes=tuple(notes),
    )
