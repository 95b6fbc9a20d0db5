"""ModelConfig admin: the catalog with current prices, capability filter, editable prices
(each edit adds a staff price row), bulk enable/disable and "sync from the provider"."""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from providers.models import Capability, ModelConfig, ModelPrice, Origin, ProviderConfig
from providers.selectors import capability_q
from providers.services.catalog import model_price_set, models_enabled_set, models_sync

PRICE_FORM_FIELDS = {
    "price_input": "input",
    "price_output": "output",
    "price_cached_input": "cached_input",
    "price_cache_write": "cache_write",
}


def _price_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=6,
        help_text="USD per million tokens; blank means unknown.",
    )


class ModelConfigForm(forms.ModelForm):
    capabilities = forms.MultipleChoiceField(
        choices=Capability.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    staff_edited_fields = forms.MultipleChoiceField(
        choices=[(f, f.replace("_", " ")) for f in ModelConfig.MANAGED_FIELDS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Catalog loads and syncs leave these fields alone. Untick one to hand it back "
        "to the catalog; fields you change here are ticked for you.",
    )
    price_input = _price_field("Input price")
    price_output = _price_field("Output price")
    price_cached_input = _price_field("Cached input (read) price")
    price_cache_write = _price_field("Cache write price")

    class Meta:
        model = ModelConfig
        fields = [
            "provider",
            "name",
            "display_name",
            "kind",
            "enabled",
            "available",
            "context_window",
            "max_output_tokens",
            "capabilities",
            "staff_edited_fields",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        price = self.instance.current_price if self.instance.pk else None
        for form_field, price_field in PRICE_FORM_FIELDS.items():
            self.fields[form_field].initial = getattr(price, price_field) if price else None

    def price_changed(self) -> bool:
        return any(name in self.changed_data for name in PRICE_FORM_FIELDS)


class CapabilityFilter(admin.SimpleListFilter):
    title = "capability"
    parameter_name = "capability"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Capability.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value in Capability.values:
            return queryset.filter(capability_q(value))
        return queryset


class ModelPriceInline(admin.TabularInline):
    """The price history, read-only: prices change by adding a row from the fields above."""

    model = ModelPrice
    extra = 0
    can_delete = False
    ordering = ["-effective_from", "-id"]
    fields = readonly_fields = (
        "effective_from",
        "input",
        "output",
        "cached_input",
        "cache_write",
        "source",
        "created_by",
        "note",
        "source_url",
    )
    verbose_name_plural = "price history"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _price(field: str, label: str) -> Any:
    @admin.display(description=label)
    def show(model_admin: Any, obj: ModelConfig) -> str:
        price = obj.current_price
        value = getattr(price, field) if price else None
        return "—" if value is None else f"{value.normalize():f}"

    return show


@admin.register(ModelConfig)
class ModelConfigAdmin(admin.ModelAdmin):
    form = ModelConfigForm
    list_display = [
        "name",
        "provider",
        "kind",
        "enabled",
        "available",
        "context_window",
        "input_price",
        "output_price",
        "cached_input_price",
        "cache_write_price",
    ]
    list_filter = ["provider", "kind", "enabled", "available", CapabilityFilter, "origin"]
    list_select_related = ["provider"]
    search_fields = ["name", "display_name", "provider__slug"]
    ordering = ["provider__slug", "name"]
    inlines = [ModelPriceInline]
    readonly_fields = ["model_string", "origin", "last_seen_at", "created_at", "updated_at"]
    actions = ["enable_models", "disable_models", "sync_from_providers"]
    fieldsets = [
        (None, {"fields": ["provider", "name", "model_string", "display_name", "kind"]}),
        ("Use", {"fields": ["enabled", "available"]}),
        ("Limits", {"fields": ["context_window", "max_output_tokens", "capabilities"]}),
        (
            "Current price (USD per million tokens)",
            {
                "fields": list(PRICE_FORM_FIELDS),
                "description": "Changing a price adds a new row to the history, effective "
                "now; calls made earlier keep the price then in force.",
            },
        ),
        (
            "Origin",
            {
                "fields": [
                    "origin",
                    "staff_edited_fields",
                    "last_seen_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    input_price = _price("input", "input $/M")
    output_price = _price("output", "output $/M")
    cached_input_price = _price("cached_input", "cached $/M")
    cache_write_price = _price("cache_write", "cache write $/M")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("prices")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # The identity of a model is fixed once created: usage records name it.
        fixed = ["provider", "name"] if obj is not None else []
        return [*fixed, *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: ModelConfig, form: Any, change: bool) -> None:
        edited = set(form.cleaned_data.get("staff_edited_fields") or [])
        edited |= {f for f in form.changed_data if f in ModelConfig.MANAGED_FIELDS}
        obj.staff_edited_fields = sorted(edited)
        if not change:
            obj.origin = Origin.STAFF
        super().save_model(request, obj, form, change)
        if form.price_changed():
            amounts = {
                price_field: form.cleaned_data.get(form_field)
                for form_field, price_field in PRICE_FORM_FIELDS.items()
            }
            model_price_set(model=obj, actor=request.user, source=Origin.STAFF, **amounts)

    @admin.action(description="Enable the selected models", permissions=["change"])
    def enable_models(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = models_enabled_set(models=queryset, enabled=True)
        self.message_user(request, f"{count} model(s) enabled.", messages.SUCCESS)

    @admin.action(description="Disable the selected models", permissions=["change"])
    def disable_models(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = models_enabled_set(models=queryset, enabled=False)
        self.message_user(request, f"{count} model(s) disabled.", messages.SUCCESS)

    @admin.action(
        description="Sync models from the provider(s) of the selected models",
        permissions=["change"],
    )
    def sync_from_providers(self, request: HttpRequest, queryset: QuerySet) -> None:
        providers = ProviderConfig.objects.filter(
            pk__in=queryset.values_list("provider_id", flat=True)
        )
        for provider in providers:
            result = models_sync(provider=provider).results[0]
            if result.error:
                self.message_user(
                    request,
                    f"Provider {provider.slug}: sync failed: {result.error}",
                    messages.ERROR,
                )
                continue
            self.message_user(
                request,
                f"Provider {provider.slug}: {len(result.added)} added (disabled), "
                f"{len(result.flagged)} "
                f"flagged unavailable, {len(result.restored)} available again, "
                f"{result.unchanged} unchanged.",
                messages.SUCCESS,
            )
