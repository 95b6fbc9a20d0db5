"""ModelGroup admin: the group's strategy and an inline of its members (deployments), checked
by the one rule book (`model_group_validate`)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from providers.models import ModelGroup, ModelGroupMember
from providers.services.group import model_group_validate


class MemberFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        members = [
            (
                form.cleaned_data["model_config"],
                {
                    key: form.cleaned_data.get(key)
                    for key in ("weight", "rpm_limit", "tpm_limit", "enabled")
                },
            )
            for form in self.forms
            if form.cleaned_data
            and form.cleaned_data.get("model_config")
            and not form.cleaned_data.get("DELETE")
        ]
        group = self.instance
        errors = model_group_validate(name=group.name, strategy=group.strategy, members=members)
        if errors.get("members"):
            raise ValidationError(errors["members"])


class ModelGroupMemberInline(admin.TabularInline):
    model = ModelGroupMember
    formset = MemberFormSet
    fields = ["position", "model_config", "weight", "rpm_limit", "tpm_limit", "enabled"]
    autocomplete_fields = ["model_config"]
    ordering = ["position", "id"]
    extra = 1
    verbose_name = "member (deployment)"
    verbose_name_plural = "members (deployments): quotas from each provider contract"


@admin.register(ModelGroup)
class ModelGroupAdmin(admin.ModelAdmin):
    inlines = [ModelGroupMemberInline]
    list_display = ["name", "strategy", "enabled", "member_list", "updated_at"]
    list_filter = ["strategy", "enabled"]
    search_fields = ["name", "description"]
    fields = ["name", "strategy", "enabled", "description"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelGroup]:
        return super().get_queryset(request).prefetch_related("members__model_config__provider")

    @admin.display(description="members")
    def member_list(self, obj: ModelGroup) -> str:
        return (
            ", ".join(
                f"{m.model_config} (weight {m.weight})" + ("" if m.enabled else " (off)")
                for m in obj.members.all()
            )
            or "—"
        )
