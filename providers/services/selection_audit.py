"""The audit trail of model selections: a before/after snapshot per change, who and whence.

Kept apart from the validation and writes in `selection.py` so the admin (which saves through
Django's own form machinery) and the services record changes the same way.
"""

from typing import Any

from django.db import transaction

from providers.models import ModelSelection, SelectionChange, SelectionFallback
from providers.models.selection import ChangeAction


def model_selection_snapshot(*, selection: ModelSelection) -> dict[str, Any]:
    """A JSON-able picture of a selection, as kept in SelectionChange.before/after."""
    fallbacks = (
        SelectionFallback.objects.filter(selection=selection)
        .select_related("model__provider", "group")
        .order_by("position", "id")
    )
    return {
        "service": selection.service,
        "primary": selection.primary.model_string if selection.primary_id else None,
        "primary_group": selection.primary_group.name if selection.primary_group else None,
        "fallbacks": [f.entry.model_string for f in fallbacks] if selection.pk else [],
        "temperature": selection.temperature,
        "max_tokens": selection.max_tokens,
        "top_p": selection.top_p,
        "system_prompt": selection.system_prompt,
        "cache_prompt": selection.cache_prompt,
        "required_capabilities": list(selection.required_capabilities or []),
        "min_context_window": selection.min_context_window,
        "description": selection.description,
        "cache_ttl_seconds": selection.cache_ttl_seconds,
        "cache_shared": selection.cache_shared,
        "request_log_days": selection.request_log_days,
    }


def selection_change_record(
    *,
    selection: ModelSelection,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    actor: Any = None,
    source: str = "",
) -> SelectionChange | None:
    """Write the audit row of a save; nothing when the save changed nothing."""
    if before == after:
        return None
    return SelectionChange.objects.create(
        selection=selection,
        service=selection.service,
        action=ChangeAction.CREATED if before is None else ChangeAction.UPDATED,
        source=source,
        changed_by=actor if getattr(actor, "pk", None) else None,
        before=before,
        after=after,
    )


def selection_delete_record(
    *, selection: ModelSelection, actor: Any = None, source: str = ""
) -> SelectionChange:
    """The audit row of a deletion; write it before deleting (it keeps the service name)."""
    return SelectionChange.objects.create(
        selection=None,
        service=selection.service,
        action=ChangeAction.DELETED,
        source=source,
        changed_by=actor if getattr(actor, "pk", None) else None,
        before=model_selection_snapshot(selection=selection),
        after=None,
    )


def model_selection_delete(
    *, selection: ModelSelection, actor: Any = None, source: str = "api"
) -> None:
    """Delete a selection and record who did it; its service then resolves to NotFound."""
    with transaction.atomic():
        selection_delete_record(selection=selection, actor=actor, source=source)
        selection.delete()
