"""ProviderConfig admin: write-only secrets, a key hint, and "Test connection"."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from providers.models import ProviderConfig
from providers.models.provider import base_url_credentials_problem
from providers.services.catalog import model_catalog_load, models_sync
from providers.services.connection import provider_connection_check


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
        fields = [
            "slug",
            "kind",
            "name",
            "base_url",
            "organization",
            "project",
            "timeout_seconds",
            "max_retries",
            "is_active",
        ]

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

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # The model's clean() refuses it; the page must not echo the secret back either.
        url_key = self.add_prefix("base_url")
        if base_url_credentials_problem(str(self.data.get(url_key, ""))):
            self.data = self.data.copy()
            self.data[url_key] = ""
        if cleaned.get("new_api_key"):
            self.instance.api_key = cleaned["new_api_key"]
        elif cleaned.get("clear_api_key"):
            self.instance.api_key = ""
        if cleaned.get("new_extra_headers"):
            candidate = ProviderConfig(extra_headers=cleaned["new_extra_headers"].strip())
            try:
                candidate.extra_headers_dict()
            except ValueError as exc:
                self.add_error("new_extra_headers", str(exc))
            else:
                self.instance.extra_headers = candidate.extra_headers
        elif cleaned.get("clear_extra_headers"):
            self.instance.extra_headers = ""
        return cleaned


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    form = ProviderConfigForm
    list_display = [
        "slug",
        "name",
        "kind",
        "is_active",
        "key_status",
        "base_url",
        "last_check",
    ]
    list_filter = ["kind", "is_active", "last_check_ok"]
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
        (None, {"fields": ["slug", "kind", "name", "is_active"]}),
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

    @admin.display(description="API key")
    def key_status(self, obj: ProviderConfig) -> str:
        return obj.api_key_hint

    @admin.display(description="last check", ordering="last_check_at")
    def last_check(self, obj: ProviderConfig) -> str:
        if obj.last_check_at is None:
            return "never"
        status = "ok" if obj.last_check_ok else "failed"
        return f"{status} at {obj.last_check_at:%Y-%m-%d %H:%M}, {obj.last_check_latency_ms} ms"

    def save_model(
        self, request: HttpRequest, obj: ProviderConfig, form: Any, change: bool
    ) -> None:
        if not change:
            obj.created_by = request.user
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            # A new provider starts with the catalog's models of its kind (disabled or not as
            # the catalog says), so staff can enable and price them straight away.
            summary = model_catalog_load(provider=obj)
            if summary.created:
                self.message_user(
                    request, f"{len(summary.created)} catalog models added for {obj.slug}."
                )

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
        return super().render_change_form(request, context, *args, **kwargs)
