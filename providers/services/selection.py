"""Writes of model selections: the one validation, upsert/update/delete, and the audit trail.

`model_selection_validate` is the single rule book: the admin form, the API and the services
all call it, so a selection refused in one place is refused everywhere with the same message.
"""

from collections.abc import Sequence
from numbers import Real
from typing import Any

from django.db import IntegrityError, transaction

from config.errors import Conflict, InvalidInput
from providers.models import (
    Capability,
    ModelConfig,
    ModelGroup,
    ModelKind,
    ModelSelection,
    SelectionFallback,
)
from providers.models.group import GROUP_PREFIX
from providers.models.selection import service_validator
from providers.selectors import model_config_get, model_unusable_reason
from providers.services.selection_audit import (
    model_selection_snapshot,
    selection_change_record,
)

OVERRIDE_FIELDS = ("temperature", "max_tokens", "top_p", "system_prompt")
UPDATABLE_FIELDS = frozenset(
    {"primary", "fallbacks", "overrides", "required_capabilities", "min_context_window"}
    | {"description", "cache_prompt"}
    | {"description", "primary_group", "cache_ttl_seconds", "cache_shared"}
    | {"description", "request_log_days"}
)

FieldErrors = dict[str, list[str]]
MAX_CACHE_TTL = 30 * 24 * 3600  # a month
MAX_LOG_DAYS = 3650


# -- validation -------------------------------------------------------------------------------
def model_selection_validate(
    *,
    service: str | None,
    primary: ModelConfig | None,
    fallbacks: Sequence[ModelConfig | ModelGroup] = (),
    required_capabilities: Sequence[str] = (),
    min_context_window: int | None = None,
    overrides: dict[str, Any] | None = None,
    primary_group: ModelGroup | None = None,
) -> FieldErrors:
    """Field errors of a proposed selection ({} when it may be saved).

    With a `primary_group`, the primary model must be one of its enabled members: it stands
    for the group in the checks below (kind, capabilities, context window). A fallback may be
    a model group: it must be enabled, have an enabled member, and every enabled member must
    pass the checks a fallback model would.

    Keys: service, primary, fallbacks, required_capabilities, min_context_window, temperature,
    max_tokens, top_p, system_prompt, overrides. Errors about one fallback are under
    `fallbacks`, so the admin can show them on the fallback inline.
    """
    errors: FieldErrors = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    for key, messages in overrides_validate(overrides=overrides or {}).items():
        errors.setdefault(key, []).extend(messages)
    required = list(required_capabilities or [])
    unknown = sorted(set(required) - set(Capability.values))
    if unknown:
        add(
            "required_capabilities",
            f"Unknown capability {', '.join(unknown)}; choose from {', '.join(Capability.values)}.",
        )
    if min_context_window is not None and (
        isinstance(min_context_window, bool)
        or not isinstance(min_context_window, int)
        or min_context_window < 1
    ):
        add("min_context_window", "The minimum context window must be a positive whole number.")
        min_context_window = None
    if primary is None:
        add("primary", "Choose the primary model.")
        return errors

    if reason := model_unusable_reason(model=primary):
        add("primary", f"The primary model cannot be used: {reason}.")
    if (
        primary_group is not None
        and not primary_group.members.filter(model_config=primary, enabled=True).exists()
    ):
        add(
            "primary_group",
            f"The primary {primary.model_string} must be an enabled member of the group "
            f"{primary_group.model_string}.",
        )
    if service and "embedding" in service and primary.kind != ModelKind.EMBEDDING:
        add(
            "primary",
            f"Service {service!r} is an embeddings service and needs an embedding model; "
            f"{primary.model_string} is {_a(primary.kind)} model.",
        )
    if missing := _missing(primary, required):
        add("primary", f"{primary.model_string} lacks the required capability {missing}.")
    minimum = min_context_window or primary.context_window
    if (
        min_context_window
        and primary.context_window is not None
        and primary.context_window < min_context_window
    ):
        add(
            "primary",
            f"{primary.model_string} has a context window of {primary.context_window} tokens, "
            f"below the required minimum of {min_context_window}.",
        )

    seen: set[int] = {primary.pk}
    groups_seen: set[int] = {primary_group.pk} if primary_group is not None else set()
    for entry in fallbacks:
        label = entry.model_string
        if isinstance(entry, ModelGroup):
            if entry.pk in groups_seen:
                add("fallbacks", f"{label} appears twice in the chain; each group may appear once.")
                continue
            groups_seen.add(entry.pk)
            for message in _fallback_group_errors(
                entry, primary, required, minimum, min_context_window
            ):
                add("fallbacks", message)
            continue
        if entry.pk in seen:
            add("fallbacks", f"{label} appears twice in the chain; each model may appear once.")
            continue
        seen.add(entry.pk)
        if reason := model_unusable_reason(model=entry):
            add("fallbacks", f"Fallback {label} cannot be used: {reason}.")
        for message in _fallback_model_errors(
            entry, f"Fallback {label}", primary, required, minimum, min_context_window
        ):
            add("fallbacks", message)
    return errors


def _fallback_group_errors(
    group: ModelGroup,
    primary: ModelConfig,
    required: Sequence[str],
    minimum: int | None,
    min_context_window: int | None,
) -> list[str]:
    """Why a model group cannot stand in the chain as a fallback: each of its enabled members
    must be able to stand in for the primary."""
    label = group.model_string
    if not group.enabled:
        return [f"Fallback {label} cannot be used: the group is disabled."]
    enabled = group.members.filter(enabled=True).select_related("model_config__provider")
    if not enabled:
        return [f"Fallback {label} cannot be used: the group has no enabled member."]
    messages: list[str] = []
    for member in enabled:
        model = member.model_config
        messages += _fallback_model_errors(
            model,
            f"Member {model.model_string} of fallback {label}",
            primary,
            required,
            minimum,
            min_context_window,
        )
    return messages


def _fallback_model_errors(
    model: ModelConfig,
    label: str,
    primary: ModelConfig,
    required: Sequence[str],
    minimum: int | None,
    min_context_window: int | None,
) -> list[str]:
    """Why `model` cannot stand in for the primary (kind, capabilities, context window)."""
    if model.kind != primary.kind:
        # Its other limits do not matter: it can never stand in.
        return [
            f"{label} is {_a(model.kind)} model but the primary {primary.model_string} is "
            f"{_a(primary.kind)} model; kinds must match."
        ]
    messages = []
    if missing := _missing(model, required):
        messages.append(f"{label} lacks the required capability {missing}.")
    if minimum and model.context_window is None and min_context_window:
        messages.append(
            f"{label} has no known context window, so it cannot be shown to meet the required "
            f"minimum of {minimum} tokens."
        )
    elif minimum and model.context_window is not None and model.context_window < minimum:
        messages.append(
            f"{label} has a context window of {model.context_window} tokens, smaller than the "
            f"required minimum of {minimum}."
        )
    return messages


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _missing(model: ModelConfig, required: Sequence[str]) -> str:
    return ", ".join(c for c in required if c not in (model.capabilities or []))


def overrides_validate(*, overrides: dict[str, Any]) -> FieldErrors:
    """Errors of parameter overrides, keyed by parameter name."""
    errors: FieldErrors = {}
    if not isinstance(overrides, dict):
        return {"overrides": ["Overrides must be an object of parameter names to values."]}
    unknown = sorted(set(overrides) - set(OVERRIDE_FIELDS))
    if unknown:
        errors["overrides"] = [
            f"Unknown parameter {', '.join(unknown)}; use {', '.join(OVERRIDE_FIELDS)}."
        ]
    for key, low, high in (("temperature", 0, 2), ("top_p", 0, 1)):
        value = overrides.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, Real)
            or not low <= float(value) <= high
        ):
            errors[key] = [f"{key} must be a number from {low} to {high}."]
    max_tokens = overrides.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        errors["max_tokens"] = ["max_tokens must be a whole number of at least 1."]
    prompt = overrides.get("system_prompt")
    if prompt is not None and not isinstance(prompt, str):
        errors["system_prompt"] = ["system_prompt must be text."]
    return errors


# -- writes ---------------------------------------------------------------------------------
def model_selection_upsert(
    *,
    service: str,
    primary: str,
    fallbacks: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    required_capabilities: list[str] | None = None,
    min_context_window: int | None = None,
    description: str = "",
    cache_prompt: bool = False,
    primary_group: str | None = None,
    cache_ttl_seconds: int = 0,
    cache_shared: bool = False,
    request_log_days: int = 0,
    actor: Any = None,
    source: str = "api",
) -> ModelSelection:
    """Create the selection of `service`, or replace all of its settings (PUT semantics:
    omitted fallbacks/overrides/capabilities become empty). Model strings are "slug:name"; a
    fallback may be a model group, `group:<name>`.
    Raises InvalidInput with details {"fields": {field: [messages]}}."""
    errors: FieldErrors = {}
    try:
        service_validator(service or "")
    except Exception:  # django ValidationError: turned into a field message
        errors["service"] = [
            "Use lowercase letters, digits, underscores and hyphens (for example rag_agent)."
        ]
    if overrides is not None and not isinstance(overrides, dict):
        errors["overrides"] = ["Overrides must be an object of parameter names to values."]
    if errors:
        raise _invalid(errors)
    state: dict[str, Any] = {
        "primary": primary,
        "fallbacks": fallbacks if fallbacks is not None else [],
        "overrides": dict.fromkeys(OVERRIDE_FIELDS) | (overrides or {}),
        "required_capabilities": required_capabilities if required_capabilities is not None else [],
        "min_context_window": min_context_window,
        "description": description or "",
        "cache_prompt": cache_prompt,
        "primary_group": primary_group,
        "cache_ttl_seconds": cache_ttl_seconds,
        "cache_shared": cache_shared,
        "request_log_days": request_log_days,
    }
    if state["overrides"]["system_prompt"] is None:
        state["overrides"]["system_prompt"] = ""
    existing = ModelSelection.objects.filter(service=service).first()
    return _apply(service=service, selection=existing, state=state, actor=actor, source=source)


def model_selection_update(
    *, selection: ModelSelection, actor: Any = None, source: str = "api", **changes: Any
) -> ModelSelection:
    """Change some settings of an existing selection (PATCH semantics). Keys: primary (model
    string), fallbacks (list of model strings or `group:<name>`, replaces the chain),
    overrides (a dict merged into the current overrides; a None value clears one),
    required_capabilities, min_context_window, description, primary_group (a group name, or
    None), cache_ttl_seconds, cache_shared. Raises InvalidInput like `model_selection_upsert`."""
    unknown = sorted(set(changes) - UPDATABLE_FIELDS)
    if unknown:
        raise _invalid({key: ["This field cannot be changed."] for key in unknown})
    current = model_selection_snapshot(selection=selection)
    state = {
        "primary": current["primary"],
        "fallbacks": current["fallbacks"],
        "overrides": {k: current[k] for k in OVERRIDE_FIELDS},
        "required_capabilities": current["required_capabilities"],
        "min_context_window": current["min_context_window"],
        "description": current["description"],
        "cache_prompt": current["cache_prompt"],
        "primary_group": current["primary_group"],
        "cache_ttl_seconds": current["cache_ttl_seconds"],
        "cache_shared": current["cache_shared"],
        "request_log_days": current["request_log_days"],
    }
    for key, value in changes.items():
        if key == "overrides":
            if not isinstance(value, dict):
                raise _invalid({"overrides": ["Overrides must be an object."]})
            state["overrides"] = state["overrides"] | value
        else:
            state[key] = value
    if state["overrides"].get("system_prompt") is None:
        state["overrides"]["system_prompt"] = ""
    return _apply(
        service=selection.service, selection=selection, state=state, actor=actor, source=source
    )


def _apply(
    *,
    service: str,
    selection: ModelSelection | None,
    state: dict[str, Any],
    actor: Any,
    source: str,
) -> ModelSelection:
    errors: FieldErrors = {}
    primary = _lookup(state["primary"], "primary", errors)
    fallback_models: list[ModelConfig | ModelGroup] = []
    if not isinstance(state["fallbacks"], list):
        errors.setdefault("fallbacks", []).append("Fallbacks must be a list of model strings.")
    else:
        for value in state["fallbacks"]:
            entry: ModelConfig | ModelGroup | None
            if isinstance(value, str) and value.startswith(GROUP_PREFIX):
                entry = _group_lookup(value, errors, field="fallbacks")
            else:
                entry = _lookup(value, "fallbacks", errors)
            if entry is not None:
                fallback_models.append(entry)
    group = _group_lookup(state.get("primary_group"), errors)
    ttl = state["cache_ttl_seconds"]
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_CACHE_TTL:
        errors.setdefault("cache_ttl_seconds", []).append(
            f"The cache time must be a whole number of seconds from 0 (off) to {MAX_CACHE_TTL}."
        )
    if not isinstance(state["cache_shared"], bool):
        errors.setdefault("cache_shared", []).append("cache_shared must be true or false.")
    days = state["request_log_days"]
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_LOG_DAYS:
        errors.setdefault("request_log_days", []).append(
            f"Give a whole number of days from 0 (keep no request logs) to {MAX_LOG_DAYS}."
        )
    capabilities = state["required_capabilities"]
    if not isinstance(state["cache_prompt"], bool):
        errors.setdefault("cache_prompt", []).append("cache_prompt must be true or false.")
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        errors.setdefault("required_capabilities", []).append("Give a list of capability names.")
        capabilities = []
    if errors.get("primary"):
        # Without a primary only the parameter checks are meaningful.
        primary_errors = errors
        errors = model_selection_validate(
            service=service, primary=None, overrides=state["overrides"]
        )
        errors.pop("primary", None)
        for key, messages in primary_errors.items():
            errors.setdefault(key, []).extend(messages)
    else:
        for key, messages in model_selection_validate(
            service=service,
            primary=primary,
            fallbacks=fallback_models,
            required_capabilities=capabilities,
            min_context_window=state["min_context_window"],
            overrides=state["overrides"],
            primary_group=group,
        ).items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise _invalid(errors)
    assert primary is not None  # _lookup records an error for every model it cannot return

    try:
        return _save(
            service, selection, state, primary, group, fallback_models, capabilities, actor, source
        )
    except IntegrityError:  # another request created this service at the same moment
        raise Conflict(
            f"The selection of {service!r} was changed concurrently; retry.",
            details={"service": service},
        ) from None


def _save(
    service: str,
    selection: ModelSelection | None,
    state: dict[str, Any],
    primary: ModelConfig,
    group: ModelGroup | None,
    fallback_models: list[ModelConfig | ModelGroup],
    capabilities: list[str],
    actor: Any,
    source: str,
) -> ModelSelection:
    with transaction.atomic():
        if selection is not None:  # serialize concurrent edits of one selection
            locked = ModelSelection.objects.select_for_update().filter(pk=selection.pk).first()
            if locked is None:
                raise IntegrityError("the selection was deleted meanwhile")
            selection = locked
        before = model_selection_snapshot(selection=selection) if selection else None
        if selection is None:
            selection = ModelSelection(service=service)
        selection.primary = primary
        selection.primary_group = group
        selection.cache_ttl_seconds = state["cache_ttl_seconds"]
        selection.cache_shared = state["cache_shared"]
        for key in OVERRIDE_FIELDS:
            setattr(selection, key, state["overrides"].get(key))
        selection.system_prompt = selection.system_prompt or ""
        selection.required_capabilities = capabilities
        selection.min_context_window = state["min_context_window"]
        selection.description = state["description"] or ""
        selection.cache_prompt = state["cache_prompt"]
        selection.request_log_days = state["request_log_days"]
        selection.updated_by = actor if getattr(actor, "pk", None) else None
        selection.save()
        fallbacks_replace(selection=selection, models=fallback_models)
        selection_change_record(
            selection=selection,
            before=before,
            after=model_selection_snapshot(selection=selection),
            actor=actor,
            source=source,
        )
    return selection


def _lookup(value: Any, field: str, errors: FieldErrors) -> ModelConfig | None:
    if not isinstance(value, str):
        errors.setdefault(field, []).append("Give a model string such as openai:gpt-4.1.")
        return None
    try:
        return model_config_get(model_string=value)
    except InvalidInput as exc:
        errors.setdefault(field, []).append(exc.message)
        return None


def _group_lookup(
    value: Any, errors: FieldErrors, field: str = "primary_group"
) -> ModelGroup | None:
    """The group named `value` (a name, or `group:<name>`); None for no group."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.setdefault(field, []).append("Give a group name, or null.")
        return None
    name = value.removeprefix(GROUP_PREFIX)
    group = ModelGroup.objects.filter(name=name).first()
    if group is None:
        errors.setdefault(field, []).append(f"Unknown model group {name[:100]!r}.")
    return group


def _invalid(errors: FieldErrors) -> InvalidInput:
    first_field, messages = next(iter(errors.items()))
    return InvalidInput(f"{first_field}: {messages[0]}", details={"fields": errors})


def fallbacks_replace(
    *, selection: ModelSelection, models: Sequence[ModelConfig | ModelGroup]
) -> None:
    """Make `models` (models or model groups) the selection's fallback chain, in this order."""
    selection.fallbacks.all().delete()
    SelectionFallback.objects.bulk_create(
        SelectionFallback(selection=selection, group=entry, position=index)
        if isinstance(entry, ModelGroup)
        else SelectionFallback(selection=selection, model=entry, position=index)
        for index, entry in enumerate(models)
    )
    # bulk_create sends no post_save: the resolution cache learns of the change from this save.
    if hasattr(selection, "_prefetched_objects_cache"):
        selection._prefetched_objects_cache.pop("fallbacks", None)
