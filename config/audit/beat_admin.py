"""django-celery-beat's periodic task admin, with its bulk actions saving row by row.

The library's enable/disable/toggle actions use `QuerySet.update()`, which sends no signal, so
a schedule switched off from the list would leave no audit event. Saving each row costs a few
queries on a list of a handful of schedules and puts every change in the trail.
"""

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask, PeriodicTasks


class AuditedPeriodicTaskAdmin(PeriodicTaskAdmin):
    """The library's pages use Celery's `current_app` (the task list of the form, "Run
    selected tasks"): the project's app is loaded first (config/__init__.py leaves it out of
    a web process's start-up)."""

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        import config.celery  # noqa: F401 - makes the project's app Celery's current app

        return super().changelist_view(request, extra_context)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: Any = None,
    ) -> HttpResponse:
        import config.celery  # noqa: F401 - makes the project's app Celery's current app

        return super().changeform_view(request, object_id, form_url, extra_context)

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
