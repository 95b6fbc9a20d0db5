"""Staff access: roles, the second factor, and sign-in protection (django-axes)."""

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class AccessConfig(AppConfig):
    name = "config.access"
    label = "access"
    verbose_name = "Staff access"

    def ready(self) -> None:
        # After every `migrate` (once all apps' permissions exist), top up the roles, so a
        # model added later reaches Administrators without anyone running setup_roles.
        post_migrate.connect(_sync_roles, dispatch_uid="access_sync_roles")
        from config.browser_middleware import browser_middleware_check

        checks.register(browser_middleware_check)


def _sync_roles(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    # post_migrate is sent once per app, in INSTALLED_APPS order, each creating its app's
    # permissions: the last one is when every permission exists.
    if sender.label != list(apps.get_app_configs())[-1].label:
        return

    from config.access.roles import roles_sync

    roles_sync(group_model=Group, permission_model=Permission)
