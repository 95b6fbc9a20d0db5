"""The four roles hold exactly these permissions; `setup_roles` is idempotent and never
removes what staff added."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

pytestmark = pytest.mark.django_db

VIEW = {
    "providers.view_providerconfig", "providers.view_modelconfig", "providers.view_modelprice",
    "providers.view_modelselection", "providers.view_selectionfallback",
    "providers.view_selectionchange", "providers.view_modelgroup",
    "providers.view_modelgroupmember", "usage.view_usagerecord", "usage.view_dailyusage",
    "usage.view_budget", "usage.view_budgetperiod", "usage.view_budgetalert",
}  # fmt: skip


def crud(label: str, actions=("view", "add", "change", "delete")) -> set[str]:
    app, model = label.split(".")
    return {f"{app}.{action}_{model}" for action in actions}


OPERATOR = (
    VIEW
    | crud("providers.modelconfig", ("add", "change", "delete"))
    | crud("providers.modelprice", ("add", "change", "delete"))
    | crud("providers.modelselection", ("add", "change", "delete"))
    | crud("providers.selectionfallback", ("add", "change", "delete"))
    | crud("providers.modelgroup", ("add", "change", "delete"))
    | crud("providers.modelgroupmember", ("add", "change", "delete"))
    | crud("providers.consumerapikey")
    | crud("usage.budget", ("add", "change", "delete"))
    | crud("usage.ratelimit")
    | crud("django_celery_beat.periodictask")
    | crud("django_celery_beat.intervalschedule")
    | crud("django_celery_beat.crontabschedule")
    | crud("django_celery_beat.clockedschedule")
    | crud("django_celery_beat.solarschedule")
    | crud("chat.conversation")
    | crud("chat.message", ("view", "add"))
    | {"chat.use_models"}
)
KEY_MANAGER = OPERATOR | crud("providers.providerconfig", ("add", "change", "delete"))


def held(name: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=name).permissions.select_related("content_type")
    }


def test_each_role_holds_exactly_its_permissions():
    assert held("Viewer") == VIEW
    assert held("Operator") == OPERATOR
    assert held("Key manager") == KEY_MANAGER
    everything = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }
    assert held("Administrator") == everything


def test_the_viewer_never_spends_and_never_writes():
    viewer = held("Viewer")
    assert "chat.use_models" not in viewer
    assert all(".view_" in perm for perm in viewer)
    assert "providers.view_consumerapikey" not in viewer


def test_setup_roles_is_idempotent_and_keeps_what_staff_added():
    viewer = Group.objects.get(name="Viewer")
    extra = Permission.objects.get(codename="view_ratelimit")
    viewer.permissions.add(extra)
    viewer.permissions.remove(Permission.objects.get(codename="view_budget"))
    Group.objects.get(name="Operator").delete()
    out = StringIO()
    call_command("setup_roles", stdout=out)
    assert "Operator: " in out.getvalue()
    assert held("Viewer") == VIEW | {"usage.view_ratelimit"}
    assert held("Operator") == OPERATOR
    before = {name: held(name) for name in ("Viewer", "Operator", "Key manager", "Administrator")}
    call_command("setup_roles", stdout=StringIO())
    assert {name: held(name) for name in before} == before
    assert Group.objects.filter(name__in=before).count() == 4


def test_every_migrate_tops_the_roles_up():
    from django.core.management.sql import emit_post_migrate_signal

    administrator = Group.objects.get(name="Administrator")
    missing = Permission.objects.get(codename="view_auditevent")
    administrator.permissions.remove(missing)
    emit_post_migrate_signal(0, False, "default")
    assert administrator.permissions.filter(pk=missing.pk).exists()
