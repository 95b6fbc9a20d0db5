"""`manage.py setup_roles`: create the role groups and add the permissions each is missing.

Idempotent; never removes a permission or a member that staff added.
"""

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from config.access.roles import roles_sync


class Command(BaseCommand):
    help = "Create the Viewer, Operator, Key manager and Administrator groups (kept in step)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            added = roles_sync(group_model=Group, permission_model=Permission)
        for name, count in added.items():
            self.stdout.write(f"{name}: {count} permission(s) added")
