"""django-celery-beat's periodic task admin, with its bulk actions saving row by row.

The library's enable/disable/toggle actions use `QuerySet.update()`, which sends no signal, so
a schedule switched off from the list would leave no audit event. Saving each row costs a few
queries on a list of a handful of schedules and puts every change in the trail.
"""

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask, PeriodicTasks


class AuditedPeriodicTaskAdmin(PeriodicTaskAdmin):
    def _set_enabled(self, queryset: QuerySet, value: Any) -> int:
        with transaction.atomic():
            tasks = list(
                PeriodicTask.objects.select_for_update().filter(pk__in=queryset.values("pk"))
            )
            for task in tasks:
                task.enabled = value(task)
                if not task.enabled:
                    task.last_run_at = None
                task.save()
        PeriodicTasks.update_changed()
        return len(tasks)

    @admin.action(description="Enable selected tasks")
    def enable_tasks(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = self._set_enabled(queryset, lambda task: True)
        self.message_user(request, f"{count} task(s) enabled.")

    @admin.action(description="Disable selected tasks")
    def disable_tasks(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = self._set_enabled(queryset, lambda task: False)
        self.message_user(request, f"{count} task(s) disabled.")

    @admin.action(description="Toggle activity of selected tasks")
    def toggle_tasks(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = self._set_enabled(queryset, lambda task: not task.enabled)
        self.message_user(request, f"{count} task(s) toggled.")


if admin.site.is_registered(PeriodicTask):
    admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, AuditedPeriodicTaskAdmin)
