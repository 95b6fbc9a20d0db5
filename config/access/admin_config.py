"""django.contrib.admin, installed with the admin site that asks for the one-time code."""

from django.contrib.admin.apps import AdminConfig


class ControlPlaneAdminConfig(AdminConfig):
    default_site = "config.access.admin_site.ControlPlaneAdminSite"
