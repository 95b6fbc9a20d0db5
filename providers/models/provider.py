"""ProviderConfig: one registered provider account (its credentials and where to send requests)."""

import hashlib
import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    URLValidator,
)
from django.db import models

from providers.adapters.egress import base_url_destination_problem
from providers.adapters.types import ProviderSettings
from providers.credentials import (
    credential_spec,
    credential_urls,
    credentials_missing,
    credentials_problems,
    credentials_public,
    credentials_split,
    secret_hint,
)
from providers.fields import EncryptedTextField
from providers.presets import preset_choices, preset_for_kind, preset_problem

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
    "Use lowercase letters, digits and hyphens only (for example `openai-eu`); "
    "it becomes the prefix of model strings such as `openai-eu:gpt-4o`.",
)
# Slugs that name API actions under /api/providers/ (POST /api/providers/test/), and `group`,
# the prefix of model groups' model strings (group:<name>).
RESERVED_SLUGS = frozenset({"test", "group"})


def slug_reserved_validator(value: str) -> None:
    if value in RESERVED_SLUGS:
        raise ValidationError(
            f"`{value}` is reserved (it names an API action or model groups); choose another."
        )


def base_url_credentials_problem(url: str) -> str | None:
    """Why `url` may not be a base URL because it can carry a secret, or None if it is fine.

    SDKs send the base URL with every request and it is shown in admin lists, logs and error
    reports, so credentials in it (userinfo, or a `?key=` query) would leak. An SDK base URL
    never needs a query string or fragment. The message never repeats the URL.
    """
    after_scheme = url.split("://", 1)[-1]
    authority = re.split(r"[/?#]", after_scheme, maxsplit=1)[0]
    if "@" in authority:
        return (
            "The base URL must not contain a user name or password (user:pass@host); "
            "credentials in a URL leak into logs. Put the key in the API key field, or other "
            "credentials in the extra headers."
        )
    if "?" in url or "#" in url:
        return (
            "The base URL must not contain a query string or fragment (?... or #...); an SDK "
            "base URL never needs one and a key in it would leak into logs. Put the key in the "
            "API key field, or other credentials in the extra headers."
        )
    return None


def normalized_base_url(url: str) -> str:
    """The base URL as compared for key binding: scheme and host lowercased, no trailing /."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, "")
    )


def credentials_binding_value(
    *,
    kind: str,
    base_url: str,
    api_key: str,
    headers: str,
    secrets: str = "",
    destination: str = "",
) -> str:
    """The binding of credentials to a destination: the kind, normalised base URL and the
    kind's destination fields (region, project, location), and a digest of the key, headers
    and the kind's secrets (stored encrypted, so it cannot be forged from the table). Kinds
    with neither extra secrets nor destination fields bind exactly as before they existed."""
    material = f"{api_key}\0{headers}" + (f"\0{secrets}" if secrets else "")
    digest = hashlib.sha256(material.encode()).hexdigest()
    where = f"{kind} {normalized_base_url(base_url)}" + (f" {destination}" if destination else "")
    return json.dumps({"destination": where, "digest": digest})


def credentials_json_dict(text: str) -> dict[str, str]:
    """The stored credentials JSON as a dict; ValueError (quoting nothing) if malformed."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("The stored credentials are not a JSON object.") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("The stored credentials must map field names to strings.")
    return value


class ProviderKind(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    GEMINI = "gemini", "Google Gemini"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible (Ollama, vLLM, Groq, ...)"
    AZURE_OPENAI = "azure_openai", "Azure OpenAI"
    BEDROCK = "bedrock", "Amazon Bedrock"
    VERTEX = "vertex", "Google Vertex AI"


class ProviderConfig(models.Model):
    slug = models.CharField(
        max_length=64, unique=True, validators=[slug_validator, slug_reserved_validator]
    )
    kind = models.CharField(max_length=32, choices=ProviderKind.choices)
    # The service it is (providers/presets.py): the key of its catalog models and prices.
    preset = models.CharField(
        max_length=32,
        blank=True,
        default="",
        choices=preset_choices,
        help_text="The service (its base URL, key need and catalog models and prices). The "
        "official kinds are their own preset; blank for an OpenAI-compatible server of your own.",
    )
    name = models.CharField("display name", max_length=128)
    api_key = EncryptedTextField(blank=True, default="")
    base_url = models.URLField(
        blank=True,
        default="",
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Required for OpenAI-compatible servers; optional override for the others.",
    )
    organization = models.CharField(max_length=128, blank=True, default="", help_text="OpenAI")
    project = models.CharField(max_length=128, blank=True, default="", help_text="OpenAI")
    extra_headers = EncryptedTextField(
        blank=True, default="", help_text="A JSON object of header names to values."
    )
    # The kind's own fields (providers.credentials: Azure's API version, Bedrock's region and
    # AWS keys, Vertex's project and service account), one JSON object, encrypted.
    credentials = EncryptedTextField(blank=True, default="")
    # Where the key and extra headers were entered for (kind and base URL) and a digest of
    # them, encrypted: they are used only while the provider still points there.
    credentials_binding = EncryptedTextField(blank=True, default="", editable=False)
    timeout_seconds = models.FloatField(
        default=60.0, validators=[MinValueValidator(0.1), MaxValueValidator(3600)]
    )
    max_retries = models.PositiveSmallIntegerField(
        default=2,
        validators=[MaxValueValidator(10)],
        help_text="Retries of a retryable failure before falling back to the next model.",
    )
    is_active = models.BooleanField(default=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_check_message = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["slug"]
        verbose_name = "provider"

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A key or headers set on the instance (entered) are bound to where it points now; a
        save that only changes the destination leaves them bound to the old one (unusable)."""
        if self._credentials_entered():
            self.credentials_bind()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "credentials_binding"}
        if not self.preset and (own := preset_for_kind(self.kind)):
            self.preset = own  # an official kind is its own preset, however the row is made
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "preset"}
        super().save(*args, **kwargs)

    def _credentials_entered(self) -> bool:
        """Whether this save writes credentials other than the stored ones. Compared with the
        row itself, not with what was loaded, so no way of loading (deferred fields, a stale
        instance) can make a stored key look newly entered."""
        if any(name not in self.__dict__ for name in ("api_key", "extra_headers", "credentials")):
            return False  # not loaded, so not written by this save
        if self._state.adding or self.pk is None:
            return any(self._credentials())
        stored = (
            type(self)
            .objects.filter(pk=self.pk)
            .values_list("api_key", "extra_headers", "credentials")
            .first()
        )
        if stored is None:
            return any(self._credentials())
        try:
            stored_secrets = credentials_split(self.kind, credentials_json_dict(stored[2] or ""))[0]
        except ValueError:
            stored_secrets = stored[2] or ""
        return (stored[0] or "", stored[1] or "", stored_secrets) != self._credentials()

    # -- credentials bound to their destination --------------------------------------------
    def _kind_values(self) -> dict[str, str]:
        try:
            return credentials_json_dict(self.__dict__.get("credentials") or "")
        except ValueError:
            return {}

    def _credentials(self) -> tuple[str, str, str]:
        """(key, headers, the kind's secrets as canonical JSON): what is bound."""
        return (
            self.__dict__.get("api_key") or "",
            self.__dict__.get("extra_headers") or "",
            credentials_split(self.kind, self._kind_values())[0],
        )

    def _binding_now(self) -> str:
        key, headers, secrets = self._credentials()
        destination = credentials_split(self.kind, self._kind_values())[1]
        return credentials_binding_value(
            kind=self.kind,
            base_url=self.base_url,
            api_key=key,
            headers=headers,
            secrets=secrets,
            destination=destination,
        )

    def credentials_bind(self) -> None:
        """Bind the current key and headers to the current destination. Only the write paths
        that take a newly entered key call this (and save(), for a key set on the instance)."""
        self.credentials_binding = self._binding_now()

    def credentials_bound(self) -> bool:
        """Whether the stored credentials may be sent to the current destination."""
        if not any(self._credentials()):
            return True
        return bool(self.credentials_binding) and self.credentials_binding == self._binding_now()

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind and self.kind not in ProviderKind.values:
            errors["kind"] = (
                f"Unknown kind {self.kind!r}; choose one of {', '.join(ProviderKind.values)}."
            )
        spec = credential_spec(self.kind)
        if spec.base_url == "required" and not self.base_url:
            errors["base_url"] = (
                f"A {self.get_kind_display()} provider needs its base URL (http or https)."
            )
        elif self.base_url and (problem := self.base_url_problem()):
            errors["base_url"] = problem
        if self.kind in ProviderKind.values:
            self.preset = self.preset or preset_for_kind(self.kind)
            if problem := preset_problem(preset=self.preset, kind=self.kind):
                errors["preset"] = problem
        try:
            self.extra_headers_dict()
        except ValueError as exc:
            errors["extra_headers"] = str(exc)
        try:
            values = self.credentials_dict()
        except ValueError as exc:
            errors["credentials"] = str(exc)
        else:
            problems = credentials_problems(self.kind, values, api_key=self.api_key)
            for name, url in credential_urls(self.kind, values).items():
                if problem := base_url_destination_problem(url, settings.PROVIDER_ALLOWED_NETWORKS):
                    problems.setdefault(name, problem.replace("base URL", "address"))
            if "api_key" in problems:
                errors["api_key"] = problems.pop("api_key")
            if problems:
                errors["credentials"] = " ".join(
                    f"{spec.label(name)}: {problem}" for name, problem in problems.items()
                )
        if errors:
            raise ValidationError(errors)

    def base_url_problem(self) -> str | None:
        """Why the base URL may not be used (it carries credentials, or its address may not
        receive a key), or None."""
        return base_url_credentials_problem(self.base_url) or base_url_destination_problem(
            self.base_url, settings.PROVIDER_ALLOWED_NETWORKS
        )

    def extra_headers_dict(self) -> dict[str, str]:
        """The extra headers as a dict; raises ValueError if the stored text is not valid."""
        if not self.extra_headers:
            return {}
        try:
            value = json.loads(self.extra_headers)
        except json.JSONDecodeError:
            raise ValueError(
                'Extra headers must be a JSON object, e.g. {"X-Team": "search"}.'
            ) from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError(
                "Extra headers must be a JSON object of string names to string values."
            )
        return value

    def credentials_dict(self) -> dict[str, str]:
        """The kind's own credential fields; raises ValueError if the stored text is not valid."""
        return credentials_json_dict(self.credentials)

    def credentials_public(self) -> dict[str, str]:
        """The kind's fields as they may be shown: plain values, secrets as hints."""
        try:
            return credentials_public(self.kind, self.credentials_dict())
        except ValueError:
            return {}

    def credentials_missing(self) -> str | None:
        """Why the stored credentials cannot authenticate (no key, no token...), or None."""
        try:
            values = self.credentials_dict()
        except ValueError:
            return "has unreadable credentials"
        return credentials_missing(self.kind, values, api_key=self.api_key)

    @property
    def api_key_set(self) -> bool:
        return bool(self.api_key)

    @property
    def api_key_hint(self) -> str:
        """'set, ends in …abcd' for display; never more than the last four characters."""
        return secret_hint(self.api_key)

    def to_settings(self) -> ProviderSettings:
        """The plain settings an adapter is built from (adapters never see Django models).

        Credentials bound to another destination are withheld: the adapter refuses to build
        (ProviderKeyUnboundError), so the key never goes to an address it was not entered for.
        """
        bound = self.credentials_bound()
        return ProviderSettings(
            kind=self.kind,
            slug=self.slug,
            api_key=self.api_key if bound else "",
            base_url=self.base_url or None,
            organization=self.organization or None,
            project=self.project or None,
            extra_headers=self.extra_headers_dict() if bound else {},
            credentials=self.credentials_dict() if bound else {},
            timeout=self.timeout_seconds,
            max_retries=self.max_retries,
            version=self.updated_at.isoformat() if self.updated_at else "",
            allowed_networks=tuple(settings.PROVIDER_ALLOWED_NETWORKS),
            credentials_unbound=not bound,
        )
