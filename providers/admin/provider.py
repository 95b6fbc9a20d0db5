"""ProviderConfig admin: write-only secrets, a key hint, "Test connection" and "Test these
settings" (the typed kind, base URL and key, without saving). Saves go through the provider
services, which refuse a new base URL or kind without the key entered again.

Each kind's own credential fields (providers.credentials) get a section of the form, named
`<kind>__<field>`; only the section of the chosen kind is read. Secrets are write-only like the
API key; plain fields (API version, region, project) show their stored value."""

import copy
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from providers.credentials import (
    SPECS,
    CredentialField,
    credential_spec,
    credentials_merge,
    credentials_problems,
    secret_hint,
)
from providers.models import ProviderConfig
from providers.models.provider import ProviderKind, base_url_credentials_problem
from providers.presets import PRESETS, preset_defaults
from providers.services.catalog import model_catalog_load, models_sync
from providers.services.connection import (
    SettingsTestResult,
    provider_connection_check,
    provider_settings_test,
)
from providers.services.provider import (
    EDITABLE_FIELDS,
    provider_changes_check,
    provider_create,
    provider_update,
)

# Service field names -> the form fields where their errors are shown.
FORM_FIELD = {
    "api_key": "new_api_key",
    "extra_headers": "new_extra_headers",
    "credentials": None,  # the kind's section reports its own fields; this is the whole blob
}
TEST_SETTINGS = "_test_settings"
MODELS_SHOWN = 50


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value, like PasswordInput(render_value=False): a form
    refused for another field is shown again without the secret header values typed."""

    def format_value(self, value: Any) -> None:
        return None


class ProviderConfigForm(forms.ModelForm):
    """Secrets are entered here but never rendered back: blank keeps the stored value."""

    new_api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_api_key = forms.BooleanField(label="Remove the stored API key", required=False)
    new_extra_headers = forms.CharField(
        label="Extra headers",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='A JSON object, e.g. {"X-Team": "search"}. Stored encrypted; blank keeps '
        "the stored headers.",
    )
    clear_extra_headers = forms.BooleanField(label="Remove the stored headers", required=False)
    base_url = forms.URLField(
        required=False,
        assume_scheme="https",
        max_length=500,
        help_text="Required for OpenAI-compatible servers (http or https); optional otherwise.",
    )

    class Meta:
        model = ProviderConfig
        fields = list(EDITABLE_FIELDS)  # what the provider services accept

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        self.fields["new_api_key"].help_text = (
            f"Currently: {instance.api_key_hint}. "
            "Enter a new key to replace it; leave blank to keep it."
        )
        names = ", ".join(sorted(instance.extra_headers_dict())) if instance.pk else ""
        if names:
            self.fields["new_extra_headers"].help_text += f" Currently set: {names}."
        stored = instance.credentials_dict() if instance.pk else {}
        for item in credential_spec(instance.kind).fields if instance.pk else ():
            name = kind_field_name(instance.kind, item.name)
            if item.secret:
                hint = secret_hint(stored.get(item.name, ""))
                self.fields[name].help_text = (
                    f"Currently: {hint}. {item.help_text} Blank keeps it."
                ).strip()
            else:
                self.initial[name] = stored.get(item.name, "")
        # A preset fills the kind and a blank base URL (in clean()), so the kind may be left out.
        if "kind" in self.fields:  # a viewer's form has them read-only, not as fields
            self.fields["kind"].required = False
        if "preset" in self.fields:
            self.fields["preset"].help_text = preset_help()

    test_settings_requested = False

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "preset" in cleaned and "kind" in cleaned and "base_url" in cleaned:
            cleaned["preset"], cleaned["kind"], cleaned["base_url"] = preset_defaults(
                preset=cleaned["preset"] or "",
                kind=cleaned["kind"] or (self.instance.kind if self.instance.pk else ""),
                base_url=cleaned["base_url"] or "",
            )
            if not cleaned["kind"]:
                self.add_error("kind", "Choose a kind, or a preset (which gives the kind).")
        # The model's clean() refuses it; the page must not echo the secret back either.
        url_key = self.add_prefix("base_url")
        if base_url_credentials_problem(str(self.data.get(url_key, ""))):
            data: Any = copy.copy(self.data)  # a QueryDict's copy is mutable
            data[url_key] = ""
            self.data = data
        secrets: dict[str, Any] = {}
        typed_headers: dict[str, str] | None = None
        if cleaned.get("new_api_key"):
            secrets["api_key"] = cleaned["new_api_key"]
        elif cleaned.get("clear_api_key"):
            secrets["api_key"] = ""
        if cleaned.get("new_extra_headers"):
            candidate = ProviderConfig(extra_headers=cleaned["new_extra_headers"].strip())
            try:
                typed_headers = candidate.extra_headers_dict()
            except ValueError as exc:
                self.add_error("new_extra_headers", str(exc))
            else:
                secrets["extra_headers"] = candidate.extra_headers
        elif cleaned.get("clear_extra_headers"):
            secrets["extra_headers"] = ""
            typed_headers = {}
        self._kind_credentials(cleaned, secrets)
        self.secret_changes = secrets
        if self.instance.pk:
            self._check_changes(cleaned, secrets)
        if self.test_settings_requested and not self.errors:
            self._test_settings(cleaned, typed_headers)  # against the stored state; never saves
        for name, value in secrets.items():  # for the model's own clean()
            if name != "credentials":
                setattr(self.instance, name, value)
        if self._merged_credentials is not None:
            self.instance.credentials = self._merged_credentials
        return cleaned

    _merged_credentials: str | None = None

    def _kind_errors(self) -> bool:
        return any("__" in name for name in self.errors)

    def _update_errors(self, errors: ValidationError) -> None:
        """The model's errors on the stored fields, shown on the form fields that enter them
        (or above the form); ones the form already reported are not repeated."""
        if hasattr(errors, "error_dict"):
            remapped: dict[str, list] = {}
            for field, messages in errors.error_dict.items():
                target = FORM_FIELD.get(field, field) or NON_FIELD_ERRORS
                if target in self.errors or (field == "credentials" and self._kind_errors()):
                    continue
                remapped.setdefault(target, []).extend(messages)
            if not remapped:
                return
            errors = ValidationError(remapped)
        super()._update_errors(errors)  # type: ignore[misc]  # Django's, not in the stubs

    def _kind_credentials(self, cleaned: dict[str, Any], secrets: dict[str, Any]) -> None:
        """Read the chosen kind's section into secrets["credentials"] (secrets only when
        typed or cleared, plain fields always) and check it by the kind's spec."""
        kind = cleaned.get("kind") or ""
        spec = credential_spec(kind)
        if not spec.fields:
            return
        entered: dict[str, str] = {}
        for item in spec.fields:
            name = kind_field_name(kind, item.name)
            value = (cleaned.get(name) or "").strip()
            if not item.secret or value:
                entered[item.name] = value
            elif cleaned.get(f"{name}__clear"):
                entered[item.name] = ""
        same_kind = self.instance.pk and self.instance.kind == kind
        stored = self.instance.credentials_dict() if same_kind else {}
        merged = credentials_merge(kind, stored, entered)
        api_key = secrets.get("api_key", self.instance.api_key if same_kind else "")
        for field_name, problem in credentials_problems(kind, merged, api_key=api_key).items():
            target = "new_api_key" if field_name == "api_key" else kind_field_name(kind, field_name)
            self.add_error(target, problem)
        secrets["credentials"] = entered
        self._merged_credentials = json.dumps(merged, sort_keys=True) if merged else ""

    def provider_data(self) -> dict[str, Any]:
        """What the provider services save: the model fields and the secrets entered."""
        data = {
            name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data
        }
        return {**data, **self.secret_changes}

    def _check_changes(self, cleaned: dict[str, Any], secrets: dict[str, str]) -> None:
        changes = {name: cleaned[name] for name in self.Meta.fields if name in cleaned}
        try:
            provider_changes_check(provider=self.instance, changes={**changes, **secrets})
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                for error in errors:
                    self.add_error(FORM_FIELD.get(name, name), error)

    def _test_settings(self, cleaned: dict[str, Any], headers: dict[str, str] | None) -> None:
        """Test the typed settings and stop the save: the outcome is shown on the form."""
        result = provider_settings_test(
            kind=cleaned.get("kind") or "",
            base_url=cleaned.get("base_url") or "",
            api_key=cleaned.get("new_api_key") or "",
            extra_headers=headers,
            credentials={
                k: v for k, v in (self.secret_changes.get("credentials") or {}).items() if v
            },
            organization=cleaned.get("organization") or "",
            project=cleaned.get("project") or "",
            timeout_seconds=cleaned.get("timeout_seconds"),
            stored=self.instance if self.instance.pk else None,
        )
        self.settings_test_result = result
        raise ValidationError(settings_test_summary(result), code="settings_tested")


def kind_field_name(kind: str, name: str) -> str:
    return f"{kind}__{name}"


def _form_field(item: CredentialField) -> forms.Field:
    if item.secret:
        widget: forms.Widget = (
            WriteOnlyTextarea(attrs={"rows": 6, "autocomplete": "off"})
            if item.multiline
            else forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
        )
    else:
        widget = forms.Textarea(attrs={"rows": 3}) if item.multiline else forms.TextInput()
    return forms.CharField(
        label=item.label,
        required=False,
        strip=True,
        max_length=item.max_length,
        widget=widget,
        help_text=item.help_text,
    )


def kind_sections() -> list[tuple[str, list[str]]]:
    """(kind, form field names) of every kind that declares fields of its own."""
    sections = []
    for kind, spec in SPECS.items():
        names: list[str] = []
        for item in spec.fields:
            names.append(kind_field_name(kind, item.name))
            if item.secret and not item.required:
                names.append(f"{kind_field_name(kind, item.name)}__clear")
        if names:
            sections.append((kind, names))
    return sections


def _declare_kind_fields() -> None:
    """Declare every kind's fields on the form class (the admin's form factory checks the
    fieldsets against the declared fields)."""
    for kind, spec in SPECS.items():
        for item in spec.fields:
            name = kind_field_name(kind, item.name)
            fields = {name: _form_field(item)}
            if item.secret and not item.required:
                fields[f"{name}__clear"] = forms.BooleanField(
                    label=f"Remove the stored {item.label.lower()}", required=False
                )
            ProviderConfigForm.base_fields.update(fields)
            ProviderConfigForm.declared_fields.update(fields)


_declare_kind_fields()


def preset_help() -> str:
    """The presets, their base URLs and notes, for the form (from the one registry)."""
    rows = [
        f"{p.name}: {p.base_url or 'the SDK default'}"
        f"{'' if p.key_required else ' (no key needed)'}. {p.docs}"
        for p in PRESETS
    ]
    return (
        "Choosing a preset fills the kind and, when blank, the base URL, and brings the "
        "preset's catalog models and prices; leave it blank for an OpenAI-compatible server of "
        "your own (its models come from its live list). " + " ".join(rows)
    )


def settings_test_summary(result: SettingsTestResult) -> str:
    if not result.ok:
        return f"Tested, not saved: the test failed: {result.message}"
    shown = ", ".join(result.models[:MODELS_SHOWN])
    more = (
        f" and {result.model_count - MODELS_SHOWN} more"
        if result.model_count > MODELS_SHOWN
        else ""
    )
    notes = " ".join(result.notes)
    return (
        f"Tested, not saved: connection ok in {result.latency_ms} ms; "
        f"{result.model_count} models: {shown}{more}. {notes}"
    ).strip()


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    form = ProviderConfigForm
    list_display = [
        "slug",
        "name",
        "kind",
        "preset",
        "is_active",
        "key_status",
        "base_url",
        "last_check",
    ]
    list_filter = ["kind", "preset", "is_active", "last_check_ok"]
    search_fields = ["slug", "name", "base_url"]
    actions = ["test_connection", "sync_models", "load_catalog_models"]
    readonly_fields = [
        "key_status",
        "last_check",
        "last_check_message",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    ]
    fieldsets = [
        (None, {"fields": ["slug", "preset", "kind", "name", "is_active"]}),
        (
            "Credentials",
            {
                "fields": [
                    "key_status",
                    "new_api_key",
                    "clear_api_key",
                    "new_extra_headers",
                    "clear_extra_headers",
                ]
            },
        ),
        ("Endpoint", {"fields": ["base_url", "organization", "project"]}),
        ("Calls", {"fields": ["timeout_seconds", "max_retries"]}),
        ("Last connection check", {"fields": ["last_check", "last_check_message"]}),
        ("History", {"fields": ["created_at", "created_by", "updated_at", "updated_by"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list:
        """The shared sections, then one per kind with fields of its own: the provider's kind
        open, the others collapsed."""
        kinds = dict(ProviderKind.choices)
        current = obj.kind if obj is not None else None
        sections = [
            (
                f"{kinds.get(kind, kind)} settings",
                {
                    "fields": names,
                    "classes": [] if kind == current else ["collapse"],
                    "description": f"Only for providers of kind {kinds.get(kind, kind)}.",
                },
            )
            for kind, names in kind_sections()
        ]
        return [*self.fieldsets[:3], *sections, *self.fieldsets[3:]]

    @admin.display(description="API key")
    def key_status(self, obj: ProviderConfig) -> str:
        return obj.api_key_hint

    @admin.display(description="last check", ordering="last_check_at")
    def last_check(self, obj: ProviderConfig) -> str:
        if obj.last_check_at is None:
            return "never"
        status = "ok" if obj.last_check_ok else "failed"
        return f"{status} at {obj.last_check_at:%Y-%m-%d %H:%M}, {obj.last_check_latency_ms} ms"

    def get_form(
        self, request: HttpRequest, obj: Any | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if request.method == "POST" and TEST_SETTINGS in request.POST:
            return type(form.__name__, (form,), {"test_settings_requested": True})
        return form

    def save_model(
        self, request: HttpRequest, obj: ProviderConfig, form: Any, change: bool
    ) -> None:
        if change:
            saved = provider_update(provider=obj, data=form.provider_data(), user=request.user)
        else:
            # A new provider starts with the catalog's models of its preset (disabled or not as
            # the catalog says), so staff can enable and price them straight away.
            saved, summary = provider_create(data=form.provider_data(), user=request.user)
            if summary.created:
                self.message_user(
                    request, f"{len(summary.created)} catalog models added for {saved.slug}."
                )
        obj.pk = saved.pk
        obj.refresh_from_db()

    @admin.action(description="Sync models from the provider", permissions=["change"])
    def sync_models(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> None:
        for provider in queryset:
            result = models_sync(provider=provider).results[0]
            if result.error:
                self.message_user(
                    request, f"{provider.slug}: sync failed: {result.error}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"{provider.slug}: {len(result.added)} new (disabled), "
                    f"{len(result.flagged)} no longer listed, {len(result.restored)} back.",
                    messages.SUCCESS,
                )

    @admin.action(description="Load the model catalog", permissions=["change"])
    def load_catalog_models(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> None:
        for provider in queryset:
            summary = model_catalog_load(provider=provider)
            self.message_user(
                request,
                f"{provider.slug}: {len(summary.created)} created, "
                f"{len(summary.updated)} updated, {len(summary.prices_added)} prices added.",
            )

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> None:
        for provider in queryset:
            self._report_check(request, provider)

    def _report_check(self, request: HttpRequest, provider: ProviderConfig) -> None:
        result = provider_connection_check(provider=provider)
        if result.ok:
            self.message_user(
                request,
                f"{provider.slug}: connection ok in {result.latency_ms} ms, "
                f"{result.model_count} models listed.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request, f"{provider.slug}: connection failed: {result.message}", messages.ERROR
            )

    def get_urls(self) -> list:
        custom = [
            path(
                "<int:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="providers_providerconfig_test_connection",
            )
        ]
        return custom + super().get_urls()

    def test_connection_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        provider = get_object_or_404(ProviderConfig, pk=object_id)
        if request.method != "POST" or not self.has_change_permission(request, provider):
            return HttpResponse(status=405 if request.method != "POST" else 403)
        self._report_check(request, provider)
        return HttpResponseRedirect(
            reverse("admin:providers_providerconfig_change", args=[provider.pk])
        )

    def render_change_form(self, request: HttpRequest, context: dict, *args: Any, **kwargs: Any):
        obj = kwargs.get("obj")
        if obj is not None and obj.pk:
            context["test_connection_url"] = reverse(
                "admin:providers_providerconfig_test_connection", args=[obj.pk]
            )
        context["test_settings_name"] = TEST_SETTINGS
        return super().render_change_form(request, context, *args, **kwargs)
