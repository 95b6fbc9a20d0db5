"""Writes of model groups: the one validation, upsert and delete.

`model_group_validate` is the rule book the admin and the API share: members are model strings
of existing models, each at most once, all of one kind; weights are whole numbers (0 makes a
member failover only); quotas are positive or unknown. Saving bumps the catalog generation
(providers.signals), so the next call in every process routes by the new members.
"""

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from config.errors import Conflict, InvalidInput
from providers.models import ModelConfig, ModelGroup, ModelGroupMember, RoutingStrategy
from providers.models.group import group_name_validator
from providers.selectors import model_config_get, model_unusable_reason

FieldErrors = dict[str, list[str]]
MEMBER_FIELDS = frozenset({"model", "weight", "rpm_limit", "tpm_limit", "enabled"})
MAX_MEMBERS = 50


def model_group_validate(
    *, name: str, strategy: str, members: Sequence[tuple[ModelConfig, dict[str, Any]]]
) -> FieldErrors:
    """Field errors of a proposed group ({} when it may be saved). `members` pairs each model
    with its options (weight, rpm_limit, tpm_limit, enabled)."""
    errors: FieldErrors = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    try:
        group_name_validator(name or "")
    except Exception:  # django ValidationError: turned into a field message
        add("name", "Use lowercase letters, digits, dots, underscores and hyphens.")
    if strategy not in RoutingStrategy.values:
        add("strategy", f"Unknown strategy; choose from {', '.join(RoutingStrategy.values)}.")
    if not members:
        add("members", "A group needs at least one member.")
    seen: set[int] = set()
    kinds = {model.kind for model, _ in members}
    if len(kinds) > 1:
        add("members", "Members must all be of one kind (chat or embedding).")
    for model, options in members:
        label = model.model_string
        if model.pk in seen:
            add("members", f"{label} appears twice; each model may be a member once.")
        seen.add(model.pk)
        weight = options.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            add("members", f"The weight of {label} must be a whole number of at least 0.")
        for key in ("rpm_limit", "tpm_limit"):
            value = options.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                add("members", f"The {key} of {label} must be a positive whole number or empty.")
        if options.get("enabled", True) and (reason := model_unusable_reason(model=model)):
            add("members", f"Member {label} cannot be used: {reason}.")
    if members and not any(
        o.get("enabled", True) and isinstance(o.get("weight", 1), int) and o.get("weight", 1) > 0
        for _, o in members
    ):
        add("members", "At least one enabled member needs a weight above 0.")
    return errors


def model_group_upsert(
    *,
    name: str,
    strategy: str = RoutingStrategy.WEIGHTED,
    members: list[dict[str, Any]] | None = None,
    enabled: bool = True,
    description: str = "",
) -> ModelGroup:
    """Create group `name` or replace all of its settings and members (PUT semantics). Each
    member is {"model": "slug:name", "weight", "rpm_limit", "tpm_limit", "enabled"}. Raises
    InvalidInput with details {"fields": {field: [messages]}}."""
    errors: FieldErrors = {}
    resolved: list[tuple[ModelConfig, dict[str, Any]]] = []
    for entry in members or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            errors.setdefault("members", []).append("Give each member as {model: slug:name}.")
            continue
        unknown = sorted(set(entry) - MEMBER_FIELDS)
        if unknown:
            errors.setdefault("members", []).append(f"Unknown member field {', '.join(unknown)}.")
        try:
            model = model_config_get(model_string=entry["model"])
        except InvalidInput as exc:
            errors.setdefault("members", []).append(exc.message)
            continue
        resolved.append((model, {k: v for k, v in entry.items() if k != "model"}))
    for key, messages in model_group_validate(
        name=name, strategy=strategy, members=resolved
    ).items():
        if key == "members" and not resolved and errors.get("members"):
            continue  # the members' own errors say it already
        errors.setdefault(key, []).extend(messages)
    if errors:
        first, messages = next(iter(errors.items()))
        raise InvalidInput(f"{first}: {messages[0]}", details={"fields": errors})
    try:
        with transaction.atomic():
            group = ModelGroup.objects.select_for_update().filter(name=name).first()
            if group is None:
                group = ModelGroup(name=name)
            group.strategy = strategy
            group.enabled = bool(enabled)
            group.description = description or ""
            group.save()
            group.members.all().delete()
            for position, (model, options) in enumerate(resolved):
                ModelGroupMember.objects.create(
                    group=group,
                    model_config=model,
                    position=position,
                    weight=options.get("weight", 1),
                    rpm_limit=options.get("rpm_limit"),
                    tpm_limit=options.get("tpm_limit"),
                    enabled=bool(options.get("enabled", True)),
                )
    except IntegrityError:
        raise Conflict(
            f"The group {name!r} was changed concurrently; retry.", details={"group": name}
        ) from None
    return group


def model_group_delete(*, group: ModelGroup) -> None:
    """Delete a group; Conflict while a selection routes through it (as its primary group or
    as a fallback)."""
    try:
        group.delete()
    except ProtectedError:
        services = sorted(
            set(group.selections.values_list("service", flat=True))
            | set(group.fallback_for.values_list("selection__service", flat=True))
        )
        raise Conflict(
            f"Group {group.name!r} is the primary group or a fallback of "
            f"{', '.join(services)}; change those selections first.",
            details={"group": group.name, "services": services},
        ) from None
