"""Staff access: roles, the second factor, and sign-in protection (django-axes)."""

from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "config.access"
    label = "access"
    verbose_name = "Staff access"
