"""Signal handlers that turn saves, deletes and relation changes of tracked models into events.

Models are named by label in settings.AUDIT_MODELS (with the fields whose changes are noise,
such as a last-used timestamp), so no app is imported here and any write path is covered: the
admin, the API, commands, tasks and the shell. Secret fields (settings.AUDIT_SECRET_FIELDS and
every encrypted field) are reported only as set, changed or cleared; their values never reach
the event.
"""

from __future__ import annotations

import json
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from config.audit.context import Actor, audit_context
from config.audit.models import Action
from config.audit.services import audit_event_record

SELECTION_HISTORY = "providers.SelectionChange"
_BEFORE = "_audit_before"
_CLEARED = "_audit_cleared"


def _tracked() -> dict[str, frozenset[str]]:
    return {label.lower(): frozenset(ignored) for label, ignored in settings.AUDIT_MODELS.items()}


def _ignored(sender: type[models.Model]) -> frozenset[str] | None:
    """The ignored fields of a tracked model, or None when untracked. Migrations' historical
    models (module "__fake__") are never tracked: the audit table may not exist yet."""
    if sender.__module__ == "__fake__":
        return None
    return _tracked().get(sender._meta.label_lower)


def _is_secret(field: models.Field) -> bool:
    return field.name in settings.AUDIT_SECRET_FIELDS or "Encrypted" in type(field).__name__


class _Encoder(DjangoJSONEncoder):
    """Dates, decimals and UUIDs as Django writes them; anything else (a time zone) as text."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=_Encoder))


def _fields(instance: models.Model, ignored: frozenset[str]) -> list[models.Field]:
    return [
        f for f in instance._meta.concrete_fields if f.name not in ignored and not f.primary_key
    ]


def _snapshot(instance: models.Model, ignored: frozenset[str]) -> dict[str, Any]:
    """Field values as they will be compared; secrets stay in memory, never in an event."""
    return {f.name: f.value_from_object(instance) for f in _fields(instance, ignored)}


def _secret_change(before: Any, after: Any) -> str:
    if not before:
        return "set"
    if not after:
        return "cleared"
    return "changed"


def _diff(
    instance: models.Model, before: dict[str, Any] | None, after: dict[str, Any]
) -> dict[str, Any]:
    secrets = {f.name for f in instance._meta.concrete_fields if _is_secret(f)}
    changes: dict[str, Any] = {}
    for name, new in after.items():
        old = None if before is None else before.get(name)
        if before is not None and old == new:
            continue
        if name in secrets:
            if before is None and not new:
                continue
            changes[name] = {"secret": _secret_change(old, new)}
        elif before is None:
            if new not in (None, "", [], {}):
                changes[name] = {"after": _jsonable(new)}
        else:
            changes[name] = {"before": _jsonable(old), "after": _jsonable(new)}
    return changes


def _object_id(instance: models.Model) -> Any:
    """The primary key, or the named public field of a model whose key is a secret (knox's
    token rows are keyed by the token's digest)."""
    field = settings.AUDIT_OBJECT_ID_FIELDS.get(instance._meta.label)
    return getattr(instance, field) if field else instance.pk


def _object_repr(instance: models.Model) -> str:
    """str(instance), unless a secret shows in it (knox prints the digest): then the id."""
    text = str(instance)
    for field in instance._meta.concrete_fields:
        value = field.value_from_object(instance) if _is_secret(field) else None
        if isinstance(value, str) and len(value) >= 4 and value in text:
            return str(_object_id(instance))
    return text


def _record(instance: models.Model, action: str, changes: dict[str, Any]) -> None:
    audit_event_record(
        action=action,
        object_type=instance._meta.label_lower,
        object_id=_object_id(instance),
        object_repr=_object_repr(instance),
        changes=changes,
    )


def _on_pre_save(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    ignored = _ignored(sender)
    if ignored is None or kwargs.get("raw") or instance._state.adding or instance.pk is None:
        return
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and set(update_fields) <= ignored:
        return
    old = sender._base_manager.filter(pk=instance.pk).first()
    setattr(instance, _BEFORE, None if old is None else _snapshot(old, ignored))


def _on_post_save(
    sender: type[models.Model], instance: models.Model, created: bool, **kwargs: Any
) -> None:
    if sender.__module__ == "__fake__":
        return
    if sender._meta.label_lower == SELECTION_HISTORY.lower() and created:
        _record_selection_change(instance)
        return
    ignored = _ignored(sender)
    if ignored is None or kwargs.get("raw"):
        return
    if created:
        _record(instance, Action.CREATE, _diff(instance, None, _snapshot(instance, ignored)))
        return
    if not hasattr(instance, _BEFORE):
        return  # only ignored fields were saved
    before = instance.__dict__.pop(_BEFORE)
    changes = _diff(instance, before, _snapshot(instance, ignored))
    if not changes:
        return
    action = Action.UPDATE
    if changes.get("revoked", {}).get("after") is True:
        action = Action.REVOKE
    _record(instance, action, changes)


def _on_post_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    ignored = _ignored(sender)
    if ignored is None:
        return
    before = _diff(instance, None, _snapshot(instance, ignored))
    _record(instance, Action.DELETE, {k: {"before": v.get("after", v)} for k, v in before.items()})


def _on_m2m_changed(
    sender: Any,
    instance: models.Model,
    action: str,
    reverse: bool,
    model: type[models.Model],
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    field = _m2m_fields.get(sender)
    if field is None or instance._meta.label_lower not in _tracked():
        return
    name = field.name if not reverse else field.related_query_name()
    if action == "pre_clear":
        related = getattr(instance, _accessor(field, reverse)).all()
        setattr(instance, _CLEARED, [str(o) for o in related])
        return
    if action == "post_clear":
        removed = instance.__dict__.pop(_CLEARED, [])
        if removed:
            _record(instance, Action.UPDATE, {name: {"added": [], "removed": sorted(removed)}})
        return
    if action not in ("post_add", "post_remove") or not pk_set:
        return
    labels = sorted(str(o) for o in model._base_manager.filter(pk__in=pk_set))
    key = "added" if action == "post_add" else "removed"
    other = "removed" if key == "added" else "added"
    _record(instance, Action.UPDATE, {name: {key: labels, other: []}})


def _accessor(field: models.ManyToManyField, reverse: bool) -> str:
    if not reverse:
        return field.name
    accessor = field.remote_field.get_accessor_name()
    assert accessor is not None, "a reverse signal comes from the reverse accessor's manager"
    return accessor


def _record_selection_change(change: Any) -> None:
    """Fold the selection history (providers' SelectionChange, with its fallbacks) in."""
    before, after = change.before or {}, change.after or {}
    changes = {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
    action = {"created": Action.CREATE, "updated": Action.UPDATE, "deleted": Action.DELETE}
    audit_event_record(
        action=action.get(change.action, Action.UPDATE),
        object_type="providers.modelselection",
        object_id=change.selection_id if change.selection_id else change.service,
        object_repr=change.service,
        changes=changes,
    )


def _on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_event_record(
        action=Action.SIGN_IN,
        object_type="auth.user",
        object_id=user.pk,
        object_repr=user.get_username(),
        user=user,
        request=request,
    )


def _on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    audit_event_record(
        action=Action.SIGN_OUT,
        object_type="auth.user",
        object_id=user.pk,
        object_repr=user.get_username(),
        user=user,
        request=request,
    )


def _named(username: str) -> Actor:
    """Who a failed sign-in tried to be; the name is what was typed, so it is only a label."""
    model = apps.get_model(settings.AUTH_USER_MODEL)
    found = model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()
    if found is not None:
        return Actor("user", str(found.pk), found.get_username())
    return Actor("anonymous", "", (username or "anonymous")[:150])


def _on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any):
    actor = _named(str(credentials.get("username", "")))
    audit_event_record(
        action=Action.SIGN_IN_FAILED,
        object_type="auth.user",
        object_id=actor.actor_id,
        object_repr=actor.actor,
        actor=actor,
        request=request,
    )


def _on_locked_out(sender: Any, request: Any, username: str, ip_address: str, **kw: Any):
    actor = _named(str(username or ""))
    audit_event_record(
        action=Action.LOCKED_OUT,
        object_type="auth.user",
        object_id=actor.actor_id,
        object_repr=actor.actor,
        actor=actor,
        request=request,
    )


_m2m_fields: dict[Any, models.ManyToManyField] = {}
_task_contexts: dict[str, Any] = {}


def _on_task_prerun(task_id: str | None = None, **kwargs: Any) -> None:
    ctx = audit_context(source="task")
    ctx.__enter__()
    _task_contexts[task_id or ""] = ctx


def _on_task_postrun(task_id: str | None = None, **kwargs: Any) -> None:
    ctx = _task_contexts.pop(task_id or "", None)
    if ctx is not None:
        ctx.__exit__(None, None, None)


def connect() -> None:
    """Connect the handlers; called once from AuditConfig.ready()."""
    # Connected per tracked model, never to every model: a model with no receiver (the usage
    # ledger, written on every call) keeps Django's and usage.services.ledger's fast paths.
    for label in (*settings.AUDIT_MODELS, SELECTION_HISTORY):
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        uid = label.lower()
        pre_save.connect(_on_pre_save, sender=model, dispatch_uid=f"audit_pre_save:{uid}")
        post_save.connect(_on_post_save, sender=model, dispatch_uid=f"audit_post_save:{uid}")
        post_delete.connect(_on_post_delete, sender=model, dispatch_uid=f"audit_post_delete:{uid}")
        for field in model._meta.many_to_many:
            _m2m_fields[field.remote_field.through] = field
    m2m_changed.connect(_on_m2m_changed, dispatch_uid="audit_m2m_changed")
    user_logged_in.connect(_on_logged_in, dispatch_uid="audit_logged_in")
    user_logged_out.connect(_on_logged_out, dispatch_uid="audit_logged_out")
    user_login_failed.connect(_on_login_failed, dispatch_uid="audit_login_failed")

    from axes.signals import user_locked_out
    from celery.signals import task_postrun, task_prerun

    user_locked_out.connect(_on_locked_out, dispatch_uid="audit_locked_out")
    task_prerun.connect(_on_task_prerun, dispatch_uid="audit_task_prerun", weak=False)
    task_postrun.connect(_on_task_postrun, dispatch_uid="audit_task_postrun", weak=False)
