"""Create the role groups (Viewer, Operator, Key manager, Administrator) with their permissions.

Permissions are normally created after all migrations (post_migrate), so they are created here
first for every app this depends on. `manage.py setup_roles` keeps the groups in step later.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from config.access.roles import roles_sync

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("providers", "0001_initial"),
        ("usage", "0001_initial"),
        ("chat", "0002_use_models_permission"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("knox", "0009_extend_authtoken_field"),
        ("rest_framework_api_key", "0005_auto_20220110_1102"),
        ("axes", "0010_accessattemptexpiration"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
        ("audit", "0001_initial"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
