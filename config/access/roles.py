"""The four staff roles, as Django groups with exactly these permissions.

Roles are granted by adding a user to the group (and ticking Staff status); `setup_roles` and
the data migration create the groups and add any missing permission, never removing one staff
added. Spending is the permission `chat.use_models`, so reading is never permission to pay.
Request logs (`chat.view_requestlog`) hold what callers sent and received: only Administrator
reads them, as no other role lists the permission.
"""

from typing import Any

VIEWER = "Viewer"
OPERATOR = "Operator"
KEY_MANAGER = "Key manager"
ADMINISTRATOR = "Administrator"
ROLE_NAMES = (VIEWER, OPERATOR, KEY_MANAGER, ADMINISTRATOR)
# Members of these roles (and superusers) must sign in with a second factor.
MFA_ROLES = (KEY_MANAGER, ADMINISTRATOR)
ALL_PERMISSIONS = "*"


def _perms(app_model: str, *actions: str) -> tuple[str, ...]:
    app, model = app_model.split(".")
    return tuple(f"{app}.{action}_{model}" for action in actions)


CRUD = ("view", "add", "change", "delete")
_VIEWER = (
    *_perms("providers.providerconfig", "view"),
    *_perms("providers.modelconfig", "view"),
    *_perms("providers.modelprice", "view"),
    *_perms("providers.modelselection", "view"),
    *_perms("providers.selectionfallback", "view"),
    *_perms("providers.selectionchange", "view"),
    *_perms("providers.modelgroup", "view"),
    *_perms("providers.modelgroupmember", "view"),
    *_perms("usage.usagerecord", "view"),
    *_perms("usage.dailyusage", "view"),
    *_perms("usage.budget", "view"),
    *_perms("usage.budgetperiod", "view"),
    *_perms("usage.budgetalert", "view"),
)
_OPERATOR = (
    *_VIEWER,
    *_perms("providers.modelconfig", "add", "change", "delete"),
    *_perms("providers.modelprice", "add", "change", "delete"),
    *_perms("providers.modelselection", "add", "change", "delete"),
    *_perms("providers.selectionfallback", "add", "change", "delete"),
    *_perms("providers.modelgroup", "add", "change", "delete"),
    *_perms("providers.modelgroupmember", "add", "change", "delete"),
    *_perms("providers.consumerapikey", *CRUD),
    *_perms("usage.budget", "add", "change", "delete"),
    *_perms("usage.ratelimit", *CRUD),
    *_perms("django_celery_beat.periodictask", *CRUD),
    *_perms("django_celery_beat.intervalschedule", *CRUD),
    *_perms("django_celery_beat.crontabschedule", *CRUD),
    *_perms("django_celery_beat.clockedschedule", *CRUD),
    *_perms("django_celery_beat.solarschedule", *CRUD),
    "chat.use_models",
    *_perms("chat.conversation", *CRUD),
    *_perms("chat.message", "view", "add"),
)
_KEY_MANAGER = (*_OPERATOR, *_perms("providers.providerconfig", "add", "change", "delete"))

ROLES: dict[str, tuple[str, ...] | str] = {
    VIEWER: _VIEWER,
    OPERATOR: _OPERATOR,
    KEY_MANAGER: _KEY_MANAGER,
    ADMINISTRATOR: ALL_PERMISSIONS,
}


def roles_sync(*, group_model: Any, permission_model: Any) -> dict[str, int]:
    """Create the role groups and add their missing permissions; returns permissions added
    per role. Takes the model classes so the data migration can pass its historical ones."""
    added: dict[str, int] = {}
    for name, wanted in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        perms = permission_model.objects.all()
        if wanted != ALL_PERMISSIONS:
            perms = perms.filter(
                pk__in=[
                    p.pk
                    for p in perms.select_related("content_type")
                    if f"{p.content_type.app_label}.{p.codename}" in set(wanted)
                ]
            )
        missing = perms.exclude(pk__in=group.permissions.values("pk"))
        added[name] = missing.count()
        group.permissions.add(*missing)
    return added
