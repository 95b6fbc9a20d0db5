"""Consumer API key admin: the one admin for keys that /v1 and /api accept.

The secret appears once, on the page that answers the "add" form (its own block with a copy
button, sent with no-store and never put in a message, the session or a URL); the hash never
appears. Revocation is an action (it cannot be undone). djangorestframework-api-key's own
admin is unregistered: the plain keys it hands out are refused by every API.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from providers.consumers import consumer_key_revoke, consumer_key_scope_errors
from providers.models import ConsumerAPIKey


def _split(value: str) -> list[str]:
    return list(
        dict.fromkeys(p.strip() for p in (value or "").replace("\n", ",").split(",") if p.strip())
    )


class ConsumerAPIKeyForm(forms.ModelForm):
    """Allow-lists edited as comma-separated text rather than raw JSON."""

    allowed_services = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text="Comma-separated service names (e.g. rag_agent, embeddings); empty means all.",
    )
    allowed_models = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"size": 80}),
        help_text="Comma-separated model strings (e.g. openai:gpt-4.1); empty means all.",
    )

    class Meta:
        model = ConsumerAPIKey
        fields = ["name", "owner", "allowed_services", "allowed_models", "expiry_date", "revoked"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in ("allowed_services", "allowed_models"):
            self.initial[field] = ", ".join(getattr(self.instance, field) or [])

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        services = _split(cleaned.get("allowed_services", ""))
        models = _split(cleaned.get("allowed_models", ""))
        errors = consumer_key_scope_errors(allowed_services=services, allowed_models=models)
        for field, field_errors in errors.items():
            self.add_error(field, field_errors)
        cleaned["allowed_services"] = services
        cleaned["allowed_models"] = models
        return cleaned


# The library registers its own "API key permissions -> API keys" admin; its keys work nowhere.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)

_SECRET_ATTRIBUTE = "_consumer_key_secret"  # on the request, for the one response that shows it


@admin.register(ConsumerAPIKey)
class ConsumerAPIKeyAdmin(APIKeyModelAdmin):
    # The library's admin declares fixed-length tuples; these lists are its documented options.
    form = ConsumerAPIKeyForm
    list_display = [  # type: ignore[assignment]
        "name",
        "prefix",
        "owner",
        "status",
        "expiry_date",
        "last_used_at",
        "services",
        "created",
    ]
    list_filter = ["revoked", "created", "expiry_date"]  # type: ignore[assignment]
    search_fields = ["name", "prefix", "owner__username"]  # type: ignore[assignment]
    list_select_related = ["owner"]
    autocomplete_fields = ()
    actions = ["revoke_keys"]

    def get_fields(  # type: ignore[override]
        self, request: HttpRequest, obj: ConsumerAPIKey | None = None
    ) -> list[str]:
        fields = ["name", "owner", "allowed_services", "allowed_models", "expiry_date"]
        if obj is not None:
            fields = ["prefix", *fields, "revoked", "created", "last_used_at"]
        return fields

    def get_readonly_fields(  # type: ignore[override]
        self, request: HttpRequest, obj: ConsumerAPIKey | None = None
    ) -> tuple[str, ...]:
        fields: tuple[str, ...] = ("prefix", "created", "last_used_at")
        if obj is not None and obj.revoked:
            fields += ("name", "revoked", "expiry_date", "owner")
        return fields

    @admin.display(description="status")
    def status(self, obj: ConsumerAPIKey) -> str:
        if obj.revoked:
            return "revoked"
        if obj.expiry_date is not None and obj.expiry_date <= timezone.now():
            return "expired"
        return "active"

    @admin.display(description="allowed services")
    def services(self, obj: ConsumerAPIKey) -> str:
        return ", ".join(obj.allowed_services or []) or "all"

    def save_model(  # type: ignore[override]
        self, request: HttpRequest, obj: ConsumerAPIKey, form: Any = None, change: bool = False
    ) -> None:
        if change:
            obj.save()
            return
        secret = ConsumerAPIKey.objects.assign_key(obj)
        obj.save()
        setattr(request, _SECRET_ATTRIBUTE, secret)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """A new key belongs to whoever creates it unless they pick another owner."""
        return {"owner": request.user.pk, **super().get_changeform_initial_data(request)}

    def response_add(
        self, request: HttpRequest, obj: ConsumerAPIKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        """Answer the add form with the secret itself, once, instead of a redirect."""
        secret = getattr(request, _SECRET_ATTRIBUTE, None)
        if secret is None:  # pragma: no cover - save_model always sets it on an add
            return super().response_add(request, obj, post_url_continue)
        opts = self.opts
        context = {
            **self.admin_site.each_context(request),
            "title": f"API key {obj.name} created",
            "opts": opts,
            "api_key": obj,
            "secret": secret,
            "change_url": reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]
            ),
            "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        }
        response = TemplateResponse(request, "admin/providers/consumerapikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected keys (cannot be undone)", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ConsumerAPIKey]) -> None:
        count = 0
        for api_key in queryset.filter(revoked=False):
            consumer_key_revoke(api_key=api_key)
            count += 1
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)
