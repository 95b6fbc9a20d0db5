"""ModelSelection admin: the primary and an ordered fallback inline, validated by the one
rule book (`model_selection_validate`), the resolved chain shown read-only, every save
audited; and the read-only audit trail (SelectionChange)."""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from config.errors import ApplicationError
from providers.models import Capability, ModelSelection, SelectionChange, SelectionFallback
from providers.selectors import model_selection_resolve
from providers.services.selection import model_selection_validate
from providers.services.selection_audit import (
    model_selection_snapshot,
    selection_change_record,
    selection_delete_record,
)


class ModelSelectionForm(forms.ModelForm):
    cache_ttl_seconds = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=30 * 24 * 3600,
        label="Cache TTL seconds",
        help_text="Answer an identical request from the response cache for this many seconds "
        "(empty or 0: off).",
    )
    required_capabilities = forms.MultipleChoiceField(
        choices=Capability.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Every model of the chain must have these.",
    )
    request_log_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=3650,
        initial=0,
        help_text=ModelSelection._meta.get_field("request_log_days").help_text,
    )

    class Meta:
        model = ModelSelection
        fields = [
            "service",
            "description",
            "primary",
            "primary_group",
            "required_capabilities",
            "min_context_window",
            "temperature",
            "max_tokens",
            "top_p",
            "system_prompt",
            "cache_prompt",
            "cache_ttl_seconds",
            "cache_shared",
            "request_log_days",
        ]

    def clean_cache_ttl_seconds(self) -> int:
        return self.cleaned_data.get("cache_ttl_seconds") or 0

    def clean_request_log_days(self) -> int:
        return self.cleaned_data.get("request_log_days") or 0

    def clean(self) -> dict[str, Any]:
        """The primary's checks; the fallbacks are checked by the inline's formset."""
        super().clean()
        cleaned = self.cleaned_data
        errors = model_selection_validate(
            service=cleaned.get("service") or self.instance.service,
            primary=cleaned.get("primary"),
            required_capabilities=cleaned.get("required_capabilities") or [],
            min_context_window=cleaned.get("min_context_window"),
            primary_group=cleaned.get("primary_group"),
        )
        for field, messages in errors.items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, messages)
        return cleaned


class FallbackFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        selection = self.instance
        # A form with both or neither of model and group is refused by the model's check
        # constraint (validated with the form), so each chosen entry is one or the other.
        if selection.primary_id is None or any(form.errors for form in self.forms):
            return
        chosen = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data
            and (form.cleaned_data.get("model") or form.cleaned_data.get("group"))
            and not form.cleaned_data.get("DELETE")
        ]
        chosen.sort(key=lambda data: data.get("position") or 0)
        errors = model_selection_validate(
            service=selection.service,
            primary=selection.primary,
            fallbacks=[data["model"] or data["group"] for data in chosen],
            required_capabilities=selection.required_capabilities or [],
            min_context_window=selection.min_context_window,
            primary_group=selection.primary_group,
        )
        if errors.get("fallbacks"):
            raise ValidationError(errors["fallbacks"])


class SelectionFallbackInline(admin.TabularInline):
    model = SelectionFallback
    formset = FallbackFormSet
    fields = ["position", "model", "group"]
    autocomplete_fields = ["model", "group"]
    ordering = ["position", "id"]
    extra = 1
    verbose_name = "fallback (a model or a model group)"
    verbose_name_plural = (
        "fallbacks, tried in order of position after the primary (a group's members in the "
        "order its strategy ranks them)"
    )


@admin.register(ModelSelection)
class ModelSelectionAdmin(admin.ModelAdmin):
    form = ModelSelectionForm
    inlines = [SelectionFallbackInline]
    list_display = [
        "service",
        "primary",
        "primary_group",
        "fallback_chain",
        "updated_at",
        "updated_by",
    ]
    list_select_related = ["primary__provider", "primary_group", "updated_by"]
    search_fields = ["service", "description", "primary__name"]
    autocomplete_fields = ["primary"]
    readonly_fields = ["resolved_chain", "updated_at", "updated_by"]
    fieldsets = [
        (
            None,
            {"fields": ["service", "description", "primary", "primary_group", "resolved_chain"]},
        ),
        ("Requirements", {"fields": ["required_capabilities", "min_context_window"]}),
        (
            "Parameter overrides",
            {"fields": ["temperature", "max_tokens", "top_p", "system_prompt", "cache_prompt"]},
        ),
        ("Response cache", {"fields": ["cache_ttl_seconds", "cache_shared"]}),
        (
            "Request logs",
            {
                "fields": ["request_log_days"],
                "description": "Request content is sensitive: redacted with "
                "REQUEST_LOG_REDACT_PATTERNS, readable by administrators only.",
            },
        ),
        ("Changes", {"fields": ["updated_at", "updated_by"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("fallbacks__model__provider", "fallbacks__group")
        )

    @admin.display(description="fallbacks")
    def fallback_chain(self, obj: ModelSelection) -> str:
        return " → ".join(str(m) for m in obj.fallback_list()) or "—"

    @admin.display(description="resolved chain (what the next call uses)")
    def resolved_chain(self, obj: ModelSelection) -> str:
        if obj.pk is None:
            return "Shown once saved."
        try:
            resolved = model_selection_resolve(name=obj.service)
        except ApplicationError as exc:
            return exc.message
        rows = [
            (
                index + 1,
                model.model_string,
                model.context_window or "?",
                "—" if model.prices.input is None else f"{model.prices.input.normalize():f}",
                "—" if model.prices.output is None else f"{model.prices.output.normalize():f}",
            )
            for index, model in enumerate(resolved.candidates)
        ]
        return format_html(
            "<ol style='margin:0;padding-left:1.2em'>{}</ol>"
            "<small>Disabled or unavailable models and inactive providers are skipped.</small>",
            format_html_join(
                "",
                "<li>{1} (context {2}; $/M in {3}, out {4})</li>",
                rows,
            ),
        )

    # -- the audit trail ----------------------------------------------------------------------
    def save_model(
        self, request: HttpRequest, obj: ModelSelection, form: Any, change: bool
    ) -> None:
        previous = ModelSelection.objects.filter(pk=obj.pk).first() if obj.pk else None
        request._selection_before = (  # type: ignore[attr-defined]
            model_selection_snapshot(selection=previous) if previous else None
        )
        user = request.user
        obj.updated_by = None if isinstance(user, AnonymousUser) else user
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        selection = form.instance
        selection_change_record(
            selection=selection,
            before=getattr(request, "_selection_before", None),
            after=model_selection_snapshot(selection=selection),
            actor=request.user,
            source="admin",
        )

    def delete_model(self, request: HttpRequest, obj: ModelSelection) -> None:
        selection_delete_record(selection=obj, actor=request.user, source="admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            selection_delete_record(selection=obj, actor=request.user, source="admin")
        super().delete_queryset(request, queryset)


@admin.register(SelectionChange)
class SelectionChangeAdmin(admin.ModelAdmin):
    list_display = ["changed_at", "service", "action", "source", "changed_by"]
    list_filter = ["action", "source"]
    search_fields = ["service"]
    date_hierarchy = "changed_at"
    fields = readonly_fields = (
        "changed_at",
        "service",
        "selection",
        "action",
        "source",
        "changed_by",
        "before_json",
        "after_json",
    )

    @admin.display(description="before")
    def before_json(self, obj: SelectionChange) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.before, indent=2, sort_keys=True))

    @admin.display(description="after")
    def after_json(self, obj: SelectionChange) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.after, indent=2, sort_keys=True))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
